import { z } from 'zod';
import { ScopeId, UserId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { ALL_PERMISSIONS, PERMISSION_NAMES, Permission, type PermissionName } from './flags.js';
import { ClearedOutput, EffectiveOutput, ExplanationOutput, MemberGrantOutput, OverwriteOutput } from './outputs.js';

/** A permissions bitfield (bigint, carried by superjson): only defined flags. */
export const PermissionsInput = z
  .bigint({ message: 'permissions must be a bigint bitfield' })
  .min(0n, 'permissions must not be negative')
  .refine((v) => (v & ~ALL_PERMISSIONS) === 0n, 'permissions hold an unknown flag bit');

export const FlagName = z.enum(PERMISSION_NAMES as [PermissionName, ...PermissionName[]]);

const TargetType = z.enum(['role', 'member']);
const OverwriteTarget = { scopeId: ScopeId, targetType: TargetType, targetId: z.uuid({ message: 'targetId must be a role or user id (uuid)' }) };

export const SetOverwriteInput = z
  .object({ ...OverwriteTarget, allow: PermissionsInput.default(0n), deny: PermissionsInput.default(0n) })
  .refine((o) => (o.allow & o.deny) === 0n, { message: 'a flag cannot be both allowed and denied', path: ['deny'] })
  .refine((o) => ((o.allow | o.deny) & Permission.Administrator) === 0n, {
    message: 'Administrator cannot be set in an overwrite; give it through a role',
    path: ['allow'],
  });
export const ClearOverwriteInput = z.object(OverwriteTarget);
export const EffectiveInput = z.object({ scopeId: ScopeId, userId: UserId.optional() });
export const ExplainInput = z.object({ scopeId: ScopeId, userId: UserId.optional(), flag: FlagName });
export const MemberGrantInput = z.object({ scopeId: ScopeId, userId: UserId, permissions: PermissionsInput });

export const permissionsRouter = router({
  /**
   * Effective permissions of the caller (or, with ManageRoles, of `userId`) in a scope:
   * `{ scopeId, userId, permissions (bigint), names, isOwner, isMember, highestRolePosition,
   * timedOutUntil }`. Errors: NOT_FOUND (hidden scope), FORBIDDEN (another user without ManageRoles).
   */
  effective: authedProcedure.input(EffectiveInput).output(EffectiveOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/permissions', tags: ['permissions'], summary: 'Effective permissions of a user in a scope' } }).query(async ({ ctx, input }) => {
    const userId = input.userId ?? ctx.user.id;
    await ctx.svc.access.require(ctx.user.id, input.scopeId, userId === ctx.user.id ? 0n : Permission.ManageRoles);
    return ctx.svc.access.effective(userId, input.scopeId);
  }),

  /**
   * Which rule decided one flag: `{ flag, allowed, decidedBy, trace, archived }` where
   * decidedBy is banned, owner, notMember, administrator, noView, timeout, default, a role,
   * the member grant, or an overwrite (compute.ts `Decision`). Same access as effective.
   */
  explain: authedProcedure.input(ExplainInput).output(ExplanationOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/permissions/explain', tags: ['permissions'], summary: 'Which rule decided one flag' } }).query(async ({ ctx, input }) => {
    const userId = input.userId ?? ctx.user.id;
    await ctx.svc.access.require(ctx.user.id, input.scopeId, userId === ctx.user.id ? 0n : Permission.ManageRoles);
    return ctx.svc.access.explain(userId, input.scopeId, input.flag);
  }),

  /**
   * Sets the allow and deny of a role or member on a scope (replacing any earlier one):
   * `{ scopeId, targetType, targetId, allow, deny }`. Needs ManageScope, flags the caller
   * holds, and a target below the caller. Errors: BAD_REQUEST (a flag both allowed and
   * denied, Administrator), NOT_FOUND, FORBIDDEN.
   */
  setOverwrite: authedProcedure
    .input(SetOverwriteInput)
    .output(OverwriteOutput)
    .meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/overwrites/{targetType}/{targetId}', tags: ['permissions'], summary: 'Set the overwrite of a role or member' } })
    .mutation(({ ctx, input }) => ctx.svc.overwrites.set(ctx.user.id, input)),

  /** Removes a role's or member's overwrite from a scope: `{ cleared: true }`. Same rules as setOverwrite. */
  clearOverwrite: authedProcedure
    .input(ClearOverwriteInput)
    .output(ClearedOutput)
    .meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/overwrites/{targetType}/{targetId}', tags: ['permissions'], summary: 'Remove an overwrite' } })
    .mutation(({ ctx, input }) => ctx.svc.overwrites.clear(ctx.user.id, input)),

  /** The overwrites on a scope. Needs View. */
  listOverwrites: authedProcedure
    .input(z.object({ scopeId: ScopeId }))
    .output(z.array(OverwriteOutput))
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/overwrites', tags: ['permissions'], summary: 'The overwrites on a scope' } })
    .query(({ ctx, input }) => ctx.svc.overwrites.list(ctx.user.id, input.scopeId)),

  /**
   * Gives a member of a community or group flags of their own there (replacing earlier
   * ones; 0n clears). Owners only. Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST.
   */
  setMemberGrant: authedProcedure
    .input(MemberGrantInput)
    .output(MemberGrantOutput).meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/members/{userId}/permissions', tags: ['permissions'], summary: 'Give a member flags of their own' } })
    .mutation(({ ctx, input }) => ctx.svc.members.setMemberGrant(ctx.user.id, input.scopeId, input.userId, input.permissions)),
});
