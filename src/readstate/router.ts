import { z } from 'zod';
import { Permission } from '../permissions/flags.js';
import { limits } from '../config.js';
import { ScopeId, scopeIdNamed } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { ReadStateOutput } from './outputs.js';

export const MarkReadInput = z.object({
  scopeId: ScopeId,
  /** The seq of the last event the user has seen (a message's `seq`, or an event's). */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export const GetReadStatesInput = z.object({
  scopeIds: z.array(scopeIdNamed('each of scopeIds')).min(1).max(limits.readStateScopesMax),
});

export const readStateRouter = router({
  /**
   * Marks a scope read up to `seq`; never moves back (a lower seq changes nothing).
   * Returns `{ scopeId, lastReadSeq, unreadCount, mentionCount, updatedAt }`.
   * Errors: BAD_REQUEST for a seq past the conversation's latest; NOT_FOUND; FORBIDDEN.
   */
  mark: authedProcedure.input(MarkReadInput).output(ReadStateOutput).meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/read-state', tags: ['read-states'], summary: 'Mark a scope read up to a seq' } }).mutation(async ({ ctx, input }) => {
    await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View);
    const state = await ctx.svc.readStates.mark(ctx.user.id, input.scopeId, input.seq);
    // The user's other devices get the new counts on their user stream (unread.changed).
    await ctx.svc.bus.publish(`read:${ctx.user.id}`, input.scopeId).catch(() => {});
    return state;
  }),

  /**
   * The caller's read states in the given scopes (up to 500; scopes where the caller is
   * not a member are left out). `unreadCount`: messages after lastReadSeq not by the caller
   * and not deleted; `mentionCount`: those mentioning the caller or @everyone.
   */
  get: authedProcedure
    .input(GetReadStatesInput)
    .output(z.array(ReadStateOutput))
    .meta({ openapi: { method: 'GET', path: '/read-states', tags: ['read-states'], summary: 'The caller\'s read states in some scopes' } })
    .query(({ ctx, input }) => ctx.svc.readStates.unreadFor(ctx.user.id, input.scopeIds)),

  /** Every read state of the caller, one per scope they are a member of, in scope id order. */
  list: authedProcedure
    .output(z.array(ReadStateOutput))
    .meta({ openapi: { method: 'GET', path: '/me/read-states', tags: ['read-states'], summary: 'Every read state of the caller' } })
    .query(({ ctx }) => ctx.svc.readStates.list(ctx.user.id)),
});
