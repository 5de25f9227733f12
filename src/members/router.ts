import { z } from 'zod';
import { limits } from '../config.js';
import { ScopeId, UserId, userIdNamed } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { LeftOutput, MemberPageOutput, MembershipOutput } from './outputs.js';

export const JoinInput = z.object({ scopeId: ScopeId });
export const LeaveInput = z.object({ scopeId: ScopeId });
export const MemberTargetInput = z.object({ scopeId: ScopeId, userId: UserId });
export const ListMembersInput = z.object({
  scopeId: ScopeId,
  /** `nextCursor` of the previous page. */
  cursor: userIdNamed('cursor (the nextCursor of the previous page)').optional(),
  limit: z.number().int().min(1).max(limits.pageMax).default(50),
});

export const membersRouter = router({
  /**
   * Joins a public scope whose parent the caller belongs to; idempotent.
   * Returns `{ scopeId, userId, isOwner, joinedAt }`.
   * Errors: NOT_FOUND for an unknown or hidden scope; FORBIDDEN for a private scope or
   * without membership of the parent.
   */
  join: authedProcedure
    .input(JoinInput)
    .output(MembershipOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/join', tags: ['members'], summary: 'Join a public scope' } })
    .mutation(({ ctx, input }) => ctx.svc.members.join(input.scopeId, ctx.user.id)),

  /**
   * Leaves a scope and every scope below it: `{ left }` memberships removed. Open
   * subscriptions there end with FORBIDDEN.
   * Errors: NOT_FOUND when not a member; CONFLICT for the last owner (transfer first).
   */
  leave: authedProcedure
    .input(LeaveInput)
    .output(LeftOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/leave', tags: ['members'], summary: 'Leave a scope and everything below it' } })
    .mutation(({ ctx, input }) => ctx.svc.members.leave(ctx.user.id, input.scopeId)),

  /**
   * Adds a user (already a member of the parent) to a scope of any visibility; idempotent.
   * Needs ManageMembers. Errors: NOT_FOUND, FORBIDDEN (flag, parent rule, banned).
   */
  add: authedProcedure
    .input(MemberTargetInput)
    .output(MembershipOutput)
    .meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/members/{userId}', tags: ['members'], summary: 'Add a member' } })
    .mutation(({ ctx, input }) => ctx.svc.members.add(ctx.user.id, input.scopeId, input.userId)),

  /**
   * Members of a scope, by user id: `{ items: [{ userId, displayName, isOwner, joinedAt,
   * timedOutUntil }], nextCursor }`. Needs View. Errors: NOT_FOUND, FORBIDDEN.
   */
  list: authedProcedure
    .input(ListMembersInput)
    .output(MemberPageOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/members', tags: ['members'], summary: 'Members of a scope' } })
    .query(({ ctx, input }) => ctx.svc.members.list(ctx.user.id, input.scopeId, input.cursor, input.limit)),

  /**
   * Removes a member from a scope and below: `{ left }`. Needs ManageMembers and a
   * highest role above the target's (owners only by owners).
   * Errors: NOT_FOUND, FORBIDDEN, CONFLICT (last owner), BAD_REQUEST (yourself: use leave).
   */
  remove: authedProcedure
    .input(MemberTargetInput)
    .output(LeftOutput).meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/members/{userId}', tags: ['members'], summary: 'Remove a member' } })
    .mutation(({ ctx, input }) => ctx.svc.members.remove(ctx.user.id, input.scopeId, input.userId)),
});

export const ownersRouter = router({
  /**
   * Makes a member of a community or group an owner of it. Owners only.
   * Errors: NOT_FOUND (not a member), FORBIDDEN, BAD_REQUEST (a room or dm).
   */
  add: authedProcedure
    .input(MemberTargetInput)
    .output(MembershipOutput)
    .meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/owners/{userId}', tags: ['members'], summary: 'Make a member an owner' } })
    .mutation(({ ctx, input }) => ctx.svc.members.addOwner(ctx.user.id, input.scopeId, input.userId)),

  /**
   * Takes ownership from an owner (oneself included). Owners only. A community or group
   * always keeps one owner. Errors: NOT_FOUND, FORBIDDEN, CONFLICT (the last owner).
   */
  remove: authedProcedure
    .input(MemberTargetInput)
    .output(MembershipOutput).meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/owners/{userId}', tags: ['members'], summary: 'Take ownership from an owner' } })
    .mutation(({ ctx, input }) => ctx.svc.members.removeOwner(ctx.user.id, input.scopeId, input.userId)),

  /**
   * Hands the caller's ownership of this community or group to a member, atomically.
   * Errors: NOT_FOUND, FORBIDDEN (not an owner of this very scope), BAD_REQUEST.
   */
  transfer: authedProcedure
    .input(MemberTargetInput)
    .output(MembershipOutput).meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/owners/{userId}/transfer', tags: ['members'], summary: 'Hand the caller\'s ownership to a member' } })
    .mutation(({ ctx, input }) => ctx.svc.members.transferOwnership(ctx.user.id, input.scopeId, input.userId)),
});
