import { z } from 'zod';
import { Permission } from '../permissions/flags.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { userSubscription } from './subscriptions.js';
import { PushQueue } from './queue.js';
import { scopeBound } from './scope-bound.js';
import { visiblePresence, watchPresence } from './presence-access.js';
import type { PresenceEvent } from './presence.js';
import type { TypingEvent } from './typing.js';
import { PresenceOutput, TypingOutput } from './outputs.js';

/** The tracked id of the last event a client has; the ws link fills it in on reconnect. */
export const LastEventId = z
  .string()
  .regex(/^\d+$/, 'lastEventId must be the seq of an event (digits)')
  .max(15, 'lastEventId is too large: a seq has at most 15 digits')
  .nullish();

/**
 * An ephemeral subscription: it subscribes to the bus before it returns (so the client's
 * "started" means live), then yields `initial()` and every event pushed after. Bounded:
 * past `max` queued events the oldest are dropped (typing and presence are states; only
 * the latest matters).
 */
async function ephemeral<T>(
  signal: AbortSignal | undefined,
  start: (push: (e: T) => void) => Promise<() => Promise<void>>,
  initial: () => Promise<T[]> = async () => [],
  max = 1_000,
): Promise<AsyncIterable<T>> {
  const queue = new PushQueue<T>(max);
  const stop = await start((e) => queue.push(e));
  const first = await initial().catch(async (err) => {
    await stop();
    throw err;
  });
  queue.prepend(first);
  const drain = queue.drain(signal);
  let stopped: Promise<void> | null = null;
  const finish = () => (stopped ??= stop());
  // Not an async generator: its return() ends it at once, also while a next() waits (an
  // async generator would queue the return behind that next), so a subscription ended
  // from outside (src/realtime/guard.ts) lets go of its bus subscriptions.
  const iterator: AsyncIterator<T> = {
    async next() {
      try {
        const r = await drain.next();
        if (r.done) await finish();
        return r;
      } catch (err) {
        await finish();
        throw err;
      }
    },
    async return() {
      queue.close();
      await finish();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

export const meRouter = router({
  /**
   * The caller's own stream: `tracked(String(seq), event)` where event is `mention`
   * (a `<@you>` in a message), `dm.opened` or `membership.changed` (joined, left, removed,
   * kicked, banned). With `lastEventId` it replays what came after it, then goes live;
   * nothing missed, nothing twice, across reconnects and instances. Errors: UNAUTHORIZED.
   */
  onEvent: authedProcedure
    .input(z.object({ lastEventId: LastEventId }))
    .subscription(({ ctx, input, signal }) => userSubscription(ctx.svc, { userId: ctx.user.id, lastEventId: input.lastEventId, signal })),
});

export const typingRouter = router({
  /**
   * Says the caller is typing in a scope; the notice lasts 6 s (call again while typing;
   * extra calls within 3 s are absorbed). Returns `{ scopeId, userId, until }`.
   * Errors: NOT_FOUND, FORBIDDEN (needs send messages).
   */
  start: authedProcedure.input(z.object({ scopeId: ScopeId })).output(TypingOutput).meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/typing', tags: ['realtime'], summary: 'Say you are typing' } }).mutation(async ({ ctx, input }) => {
    await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.SendMessages);
    return ctx.svc.typing.start(input.scopeId, ctx.user.id);
  }),

  /**
   * Live typing notices of a scope: `{ scopeId, userId, until }`; never stored, never
   * replayed. Ends with FORBIDDEN when the caller may no longer read the scope.
   * Errors: NOT_FOUND, FORBIDDEN.
   */
  onEvent: authedProcedure.input(z.object({ scopeId: ScopeId })).subscription(async ({ ctx, input, signal }) => {
    const flags = Permission.View | Permission.ReadHistory;
    const { scope } = await ctx.svc.access.require(ctx.user.id, input.scopeId, flags);
    const notices = await ephemeral<TypingEvent>(signal, (push) => ctx.svc.typing.listen(input.scopeId, push));
    return scopeBound(ctx.svc, { userId: ctx.user.id, scope, flags }, notices);
  }),
});

const UserIds = z.array(z.uuid()).min(1).max(200);

export const presenceRouter = router({
  /**
   * The status (online, idle, offline) of up to 200 users: `[{ userId, status }]`, only
   * for users who share a scope or a DM with the caller (the others are left out, the same
   * whether they exist or not).
   */
  get: authedProcedure
    .input(z.object({ userIds: UserIds }))
    .output(z.array(PresenceOutput))
    .meta({ openapi: { method: 'GET', path: '/presence', tags: ['realtime'], summary: 'Presence of up to 200 users' } })
    .query(({ ctx, input }) => visiblePresence(ctx.svc, ctx.user.id, input.userIds)),

  /** The client reports the user idle or active again. Returns the caller's status. */
  set: authedProcedure
    .input(z.object({ status: z.enum(['online', 'idle']) }))
    .output(PresenceOutput).meta({ openapi: { method: 'PUT', path: '/me/presence', tags: ['realtime'], summary: 'Report yourself idle or active' } })
    .mutation(({ ctx, input }) => ctx.svc.presence.setIdle(ctx.user.id, input.status === 'idle')),

  /**
   * Presence of up to 200 users: first their current status, then each change, as
   * `{ userId, status }`. Derived from WebSocket connections on every instance. Only users
   * who share a scope or a DM with the caller appear; one who stops sharing (left, kicked,
   * banned) drops out.
   */
  onEvent: authedProcedure.input(z.object({ userIds: UserIds })).subscription(({ ctx, input, signal }) => {
    const watch = watchPresence(ctx.svc, ctx.user.id, input.userIds);
    return ephemeral<PresenceEvent>(signal, watch.start, watch.initial);
  }),
});
