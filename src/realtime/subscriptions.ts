import { limits } from '../config.js';
import type { Services } from '../app.js';
import type { Scope } from '../scopes/types.js';
import { scopeChannel, userChannel } from './hub.js';
import { ScopeSubscription } from './stream.js';
import { latestUserSeqs, userEventsAfter } from './user-log.js';
import { WireEvent } from './wire.js';

/**
 * The subscription of `userId` to a conversation it was allowed to view: replay after
 * `lastEventId`, then live; ends with FORBIDDEN when `stillAllowed` turns false.
 */
export function conversationSubscription(
  svc: Services,
  o: { userId: string; scope: Scope; lastEventId: string | null | undefined; signal: AbortSignal | undefined; stillAllowed: () => Promise<boolean> },
): ScopeSubscription {
  const { scope } = o;
  return new ScopeSubscription({
    hub: svc.hub,
    log: svc.log,
    kind: 'scope',
    key: scope.id,
    channel: scopeChannel(scope.id),
    read: async (after, limit) => (await svc.messages.eventsAfter(scope.id, after, limit)).map((e) => WireEvent.of(e)),
    resync: (latest, missed) => WireEvent.of({ type: 'resync.required', scopeId: scope.id, seq: latest, missed }),
    scopePath: [...scope.path, scope.id],
    userId: o.userId,
    lastEventId: o.lastEventId,
    currentSeq: async () => (await svc.scopes.get(scope.id)).lastSeq,
    stillAllowed: o.stillAllowed,
    pageSize: limits.replayPageSize,
    maxReplay: svc.config.realtime.replayMaxEvents,
    signal: o.signal,
  });
}

/** The user's own stream (`me.onEvent`): its log of mentions, DMs opened and membership changes. */
export function userSubscription(
  svc: Services,
  o: { userId: string; lastEventId: string | null | undefined; signal: AbortSignal | undefined },
): ScopeSubscription {
  const db = svc.database.db;
  return new ScopeSubscription({
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
    currentSeq: async () => (await latestUserSeqs(db, [o.userId])).get(o.userId) ?? 0,
    stillAllowed: async () => true,
    pageSize: limits.replayPageSize,
    maxReplay: Number.MAX_SAFE_INTEGER,
    signal: o.signal,
  });
}
