import type { Services } from '../app.js';
import type { PresenceEvent } from './presence.js';

/**
 * Who may see whose presence: users who share a live scope (community, group, room or
 * DM) with the target (MemberService.sharingWith), as in Discord, where presence shows to
 * members of a shared server and to DM partners. Everyone sees their own.
 */
export async function visiblePresence(svc: Services, viewerId: string, userIds: readonly string[]): Promise<PresenceEvent[]> {
  const visible = await svc.members.sharingWith(viewerId, [...new Set(userIds)]);
  return svc.presence.status(userIds.filter((id, i) => visible.has(id) && userIds.indexOf(id) === i));
}

/**
 * The live presence of `userIds` as `viewerId` may see it: changes of users it shares no
 * scope with are dropped, and the set is re-read on every access notice about the viewer
 * or a target (a leave, kick or ban on any instance), so a user who stops sharing a scope
 * drops out of the stream (and one found sharing at such a re-read is added with their
 * status).
 * Returns the start function for `ephemeral` (src/realtime/router.ts).
 */
export function watchPresence(svc: Services, viewerId: string, userIds: readonly string[]) {
  const targets = [...new Set(userIds)];
  let visible = new Set<string>();
  return {
    start: async (push: (e: PresenceEvent) => void): Promise<() => Promise<void>> => {
      const stopBus = await svc.presence.listen(targets, (e) => {
        if (visible.has(e.userId)) push(e);
      });
      const concerned = new Set([viewerId, ...targets]);
      const stopWatch = svc.hub.watchAccess({
        concerns: (change) => !change.userId || concerned.has(change.userId),
        recheck: async () => {
          const now = await svc.members.sharingWith(viewerId, targets).catch((err: unknown) => {
            svc.log.warn({ err, viewerId }, 'presence re-check failed; hiding everyone until the next one');
            return new Set<string>();
          });
          const added = targets.filter((id) => now.has(id) && !visible.has(id));
          visible = now;
          if (added.length > 0) for (const e of await svc.presence.status(added)) if (visible.has(e.userId)) push(e);
        },
      });
      return async () => {
        stopWatch();
        await stopBus();
      };
    },
    /** The first snapshot, read after the bus subscription is active. */
    initial: async (): Promise<PresenceEvent[]> => {
      visible = await svc.members.sharingWith(viewerId, targets);
      return svc.presence.status(targets.filter((id) => visible.has(id)));
    },
  };
}
