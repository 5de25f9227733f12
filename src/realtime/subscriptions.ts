import { limits } from '../config.js';
import type { Services } from '../app.js';
import type { Scope } from '../scopes/types.js';
import { scopeChannel, userChannel } from './hub.js';
import { ScopeSubscription } from './stream.js';
import { userEventsAfter } from './user-log.js';
import type { UserEvent } from './user-events.js';
import { WireEvent } from './wire.js';
import { unnamed } from './unnamed.js';

/**
 * The subscription of `userId` to a conversation it was allowed to view: replay after
 * `lastEventId`, then live; ends with FORBIDDEN when `stillAllowed` turns false.
 */
export function conversationSubscription(
  svc: Services,
  o: {
    userId: string;
    scope: Scope;
    lastEventId: string | null | undefined;
    signal: AbortSignal | undefined;
    stillAllowed: () => Promise<boolean>;
    /** Nothing up to this seq, nor about a message up to it (historyVisibility `joined`; messages/history.ts). */
    floor?: number;
  },
): ScopeSubscription {
  const { scope } = o;
  return new ScopeSubscription({
    hub: svc.hub,
    log: svc.log,
    kind: 'scope',
    key: scope.id,
    channel: scopeChannel(scope.id),
    // Live results are shaped per receiver (results visibility of polls and surveys).
    // unnamed(): closures made per subscription, without keepNames' property array (src/realtime/unnamed.ts).
    read: unnamed(async (after: number, limit: number) => {
      const events = await svc.messages.eventsAfter(scope.id, after, limit);
      return (await svc.surveys.shapeFor(o.userId, await svc.polls.shapeFor(o.userId, events))).map((e) => WireEvent.of(e));
    }),
    resync: unnamed((latest: number, missed: number) => WireEvent.of({ type: 'resync.required', scopeId: scope.id, seq: latest, missed })),
    scopePath: [...scope.path, scope.id],
    userId: o.userId,
    lastEventId: o.lastEventId,
    currentSeq: unnamed(() => svc.seqs.scope.get(scope.id)),
    stillAllowed: o.stillAllowed,
    floor: o.floor ?? 0,
    pageSize: limits.replayPageSize,
    maxReplay: svc.config.realtime.replayMaxEvents,
    signal: o.signal,
  });
}

/** The user's own stream (`me.onEvent`): its log of mentions, DMs opened and membership changes. */
export function userSubscription(
  svc: Services,
  o: { userId: string; lastEventId: string | null | undefined; signal: AbortSignal | undefined },
): ScopeSubscription<UserEvent> {
  const db = svc.database.db;
  return new ScopeSubscription<UserEvent>({
    hub: svc.hub,
    log: svc.log,
    kind: 'user',
    key: o.userId,
    channel: userChannel(o.userId),
    read: async (after, limit) => (await userEventsAfter(db, o.userId, after, limit)).map((e) => WireEvent.keyed(o.userId, e.seq, e)),
    resync: null, // a user's log is small: always replay
    scopePath: [],
    userId: o.userId,
    lastEventId: o.lastEventId,
    currentSeq: () => svc.seqs.user.get(o.userId),
    stillAllowed: async () => true,
    pageSize: limits.replayPageSize,
    maxReplay: Number.MAX_SAFE_INTEGER,
    signal: o.signal,
    ephemeral: (send) => unreadNotices(svc, o.userId, send),
  });
}

/** Scopes whose unread counts one user stream follows live (the rest: refetch with readState). */
const UNREAD_SCOPES_MAX = 500;
/** Unread notices of one scope are coalesced over this window (ms), so a burst is one notice. */
const UNREAD_COALESCE_MS = 150;

/**
 * `unread.changed` notices for one user stream: it listens to the conversations the user
 * belongs to (up to 500, through the instance's shared, reference-counted hub
 * subscriptions) and, after a message is created or deleted by someone else, or the user
 * marks a scope read, sends the scope's counters (read from the read-state counters the
 * triggers keep, never by scanning messages), coalesced per scope.
 */
async function unreadNotices(svc: Services, userId: string, send: (event: unknown) => void): Promise<() => Promise<void>> {
  const states = (await svc.readStates.list(userId)).slice(0, UNREAD_SCOPES_MAX);
  const pending = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  const notify = (scopeId: string) => {
    if (stopped || pending.has(scopeId)) return;
    pending.set(
      scopeId,
      setTimeout(() => {
        pending.delete(scopeId);
        svc.readStates
          .unreadFor(userId, [scopeId])
          .then(([s]) => {
            if (s && !stopped) send({ type: 'unread.changed', scopeId, unread: s.unreadCount, mentions: s.mentionCount });
          })
          .catch((err) => svc.log.warn({ err, userId, scopeId }, 'unread notice failed'));
      }, UNREAD_COALESCE_MS),
    );
  };
  const stops = await Promise.all(
    states.map((st) =>
      svc.hub.subscribe(scopeChannel(st.scopeId), {
        onWire: (w) => {
          const e = w.event();
          if ((e.type === 'message.created' || e.type === 'message.deleted') && e.actorId !== userId) notify(st.scopeId);
        },
        poke: () => {},
      }),
    ),
  );
  const stopMarks = await svc.bus.subscribe(`read:${userId}`, (scopeId) => notify(scopeId));
  return async () => {
    stopped = true;
    for (const t of pending.values()) clearTimeout(t);
    await stopMarks();
    await Promise.all(stops.map((s) => s()));
  };
}
