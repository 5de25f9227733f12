import { z } from 'zod';
import { limits } from '../config.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { InviteOutput, RedemptionOutput } from './outputs.js';

export const CreateInviteInput = z.object({
  scopeId: ScopeId,
  /** How many people may redeem it (1..10,000); omitted: unlimited. */
  maxUses: z.number().int().min(1).max(limits.inviteMaxUses).optional(),
  /** When it stops working (in the future, at most 90 days ahead); omitted: never. */
  expiresAt: z.date().optional(),
});
export const RedeemInviteInput = z.object({
  code: z.string().trim().min(1, 'code must not be empty').max(limits.inviteCodeMax).regex(/^[A-Za-z0-9_-]+$/, 'code holds only letters, digits, - and _'),
});
export const RevokeInviteInput = z.object({ inviteId: z.uuid({ message: 'inviteId must be an invite id (uuid)' }) });
export const ListInvitesInput = z.object({ scopeId: ScopeId });

export const invitesRouter = router({
  /**
   * Creates an invite with a random code: `{ id, code, scopeId, createdBy, maxUses, uses,
   * expiresAt, revokedAt, createdAt }`. Needs CreateInvites.
   * Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST (expiry in the past or beyond 90 days).
   */
  create: authedProcedure
    .input(CreateInviteInput)
    .output(InviteOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/invites', tags: ['invites'], summary: 'Create an invite' } })
    .mutation(({ ctx, input }) => ctx.svc.invites.create(ctx.user.id, input)),

  /**
   * Joins the invite's scope (and its ancestors): `{ scope, membership, joined }`. Atomic:
   * a one-use invite redeemed 20 times at once makes exactly one member.
   * Errors: NOT_FOUND (unknown code), BAD_REQUEST (revoked, expired, used up), FORBIDDEN (banned).
   */
  redeem: authedProcedure
    .input(RedeemInviteInput)
    .output(RedemptionOutput)
    .meta({ openapi: { method: 'POST', path: '/invites/{code}/redeem', tags: ['invites'], summary: 'Redeem an invite code' } })
    .mutation(({ ctx, input }) => ctx.svc.invites.redeem(ctx.user.id, input.code)),

  /** Revokes an invite (its creator, or ManageScope): the invite. Errors: NOT_FOUND, FORBIDDEN. */
  revoke: authedProcedure
    .input(RevokeInviteInput)
    .output(InviteOutput)
    .meta({ openapi: { method: 'DELETE', path: '/invites/{inviteId}', tags: ['invites'], summary: 'Revoke an invite' } })
    .mutation(({ ctx, input }) => ctx.svc.invites.revoke(ctx.user.id, input.inviteId)),

  /** The invites of a scope, newest first. Needs ManageScope. */
  list: authedProcedure
    .input(ListInvitesInput)
    .output(z.array(InviteOutput))
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/invites', tags: ['invites'], summary: 'The invites of a scope' } })
    .query(({ ctx, input }) => ctx.svc.invites.list(ctx.user.id, input.scopeId)),
});
