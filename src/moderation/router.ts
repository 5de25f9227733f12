import { z } from 'zod';
import { limits } from '../config.js';
import { ScopeId, UserId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { LeftOutput } from '../members/outputs.js';
import { BanOutput, BanResultOutput, TimeoutOutput, UnbannedOutput } from './outputs.js';

export const KickInput = z.object({ scopeId: ScopeId, userId: UserId });
export const BanInput = z.object({
  scopeId: ScopeId,
  userId: UserId,
  reason: z.string().max(limits.banReasonMax, `reason must be at most ${limits.banReasonMax} characters`).optional(),
  /** Soft-delete the user's messages of the last N seconds in the scope and below (0..604,800). */
  purgeSeconds: z.number().int().min(0).max(limits.banPurgeMaxSeconds).optional(),
});
export const UnbanInput = z.object({ scopeId: ScopeId, userId: UserId });
export const TimeoutInput = z.object({ scopeId: ScopeId, userId: UserId, until: z.date().nullable() });

export const moderationRouter = router({
  /**
   * Removes a member from the scope and below (they may join again): `{ left }`. Needs
   * KickMembers and a higher role than the target; owners only by owners. Their open
   * subscriptions there end with FORBIDDEN. Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST (yourself).
   */
  kick: authedProcedure
    .input(KickInput)
    .output(LeftOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/members/{userId}/kick', tags: ['moderation'], summary: 'Kick a member' } })
    .mutation(({ ctx, input }) => ctx.svc.moderation.kick(ctx.user.id, input.scopeId, input.userId)),

  /**
   * Bans a user from the scope and below, with an optional message purge window:
   * `{ ban, left, purged }`. Needs BanMembers and the hierarchy as kick.
   * Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST.
   */
  ban: authedProcedure
    .input(BanInput)
    .output(BanResultOutput)
    .meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/bans/{userId}', tags: ['moderation'], summary: 'Ban a user' } })
    .mutation(({ ctx, input }) => ctx.svc.moderation.ban(ctx.user.id, input)),

  /** Lifts a ban: `{ unbanned: true }`. Needs BanMembers. Errors: NOT_FOUND (no such ban), FORBIDDEN. */
  unban: authedProcedure
    .input(UnbanInput)
    .output(UnbannedOutput)
    .meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/bans/{userId}', tags: ['moderation'], summary: 'Lift a ban' } })
    .mutation(({ ctx, input }) => ctx.svc.moderation.unban(ctx.user.id, input.scopeId, input.userId)),

  /** The bans on a scope, newest first. Needs BanMembers. */
  listBans: authedProcedure
    .input(z.object({ scopeId: ScopeId }))
    .output(z.array(BanOutput))
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/bans', tags: ['moderation'], summary: 'The bans on a scope' } })
    .query(({ ctx, input }) => ctx.svc.moderation.listBans(ctx.user.id, input.scopeId)),

  /**
   * Times a member out until `until` (at most 28 days ahead; null lifts it): they keep only
   * View and ReadHistory here and below. Needs TimeoutMembers and the hierarchy as kick.
   * Returns `{ userId, timedOutUntil }`. Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST.
   */
  timeout: authedProcedure
    .input(TimeoutInput)
    .output(TimeoutOutput)
    .meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/members/{userId}/timeout', tags: ['moderation'], summary: 'Time a member out (null lifts it)' } })
    .mutation(({ ctx, input }) => ctx.svc.moderation.timeout(ctx.user.id, input)),
});
