import { z } from 'zod';
import { limits } from '../config.js';
import { ScopeSubscription } from '../realtime/stream.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';

export const SendMessageInput = z.object({
  scopeId: ScopeId,
  body: z.string().max(limits.messageBodyMax, `body must be at most ${limits.messageBodyMax} characters`),
  /** Client-chosen id of this send; a retry with the same nonce returns the original message. */
  nonce: z.string().min(1).max(limits.nonceMax).optional(),
});

export const ListMessagesInput = z.object({
  scopeId: ScopeId,
  beforeSeq: z.number().int().min(1).optional(),
  limit: z.number().int().min(1).max(limits.pageMax).default(50),
});

export const OnEventInput = z.object({
  scopeId: ScopeId,
  /** The tracked id of the last event the client has; the ws link fills it in on reconnect. */
  lastEventId: z
    .string()
    .regex(/^\d{1,15}$/, 'lastEventId must be the seq of an event (digits)')
    .nullish(),
});

export const messagesRouter = router({
  /**
   * Sends a message to a scope the caller is a member of. Returns
   * `{ id, scopeId, seq, authorId, body, nonce, createdAt }`; a retry with the same nonce
   * returns the original and creates nothing.
   * Errors: BAD_REQUEST for a blank body or one over 4,000 characters; NOT_FOUND for an
   * unknown scope; FORBIDDEN for a non-member; CONFLICT for a nonce used in another scope.
   */
  send: authedProcedure.input(SendMessageInput).mutation(async ({ ctx, input }) => {
    await ctx.svc.scopes.requireMember(input.scopeId, ctx.user.id);
    const { message, event } = await ctx.svc.messages.send(ctx.user.id, input);
    if (event) await ctx.svc.hub.publish(event);
    return message;
  }),

  /**
   * History newest first: `{ items, nextBeforeSeq }` (pass it as `beforeSeq` for the next
   * page; null at the start). `limit` 1 to 100, default 50.
   * Errors: NOT_FOUND, FORBIDDEN.
   */
  list: authedProcedure.input(ListMessagesInput).query(async ({ ctx, input }) => {
    await ctx.svc.scopes.requireMember(input.scopeId, ctx.user.id);
    return ctx.svc.messages.list(input.scopeId, input.beforeSeq, input.limit);
  }),

  /**
   * The conversation's events: `tracked(String(seq), event)`, where event is a ScopeEvent
   * (message.created, message.edited, …; discriminated on `type`) or `resync.required`
   * (you were more than 5,000 events behind: refetch with messages.list, then carry on).
   * With `lastEventId` it first replays what came after it, then goes live: nothing
   * missed, nothing twice. It ends with FORBIDDEN when the caller loses access.
   * Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST for a lastEventId ahead of the log.
   */
  onEvent: authedProcedure.input(OnEventInput).subscription(async ({ ctx, input, signal }) => {
    const scope = await ctx.svc.scopes.requireMember(input.scopeId, ctx.user.id);
    return new ScopeSubscription({
      hub: ctx.svc.hub,
      messages: ctx.svc.messages,
      log: ctx.svc.log,
      scopeId: scope.id,
      scopePath: [...scope.path, scope.id],
      userId: ctx.user.id,
      lastEventId: input.lastEventId,
      currentSeq: async () => (await ctx.svc.scopes.get(scope.id)).lastSeq,
      stillAllowed: () => ctx.svc.scopes.isMember(scope.id, ctx.user.id),
      pageSize: limits.replayPageSize,
      maxReplay: limits.replayMaxEvents,
      signal,
    });
  }),
});
