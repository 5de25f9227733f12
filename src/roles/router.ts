import { z } from 'zod';
import { limits } from '../config.js';
import { PermissionsInput } from '../permissions/router.js';
import { ScopeId, UserId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { AssignmentOutput, DeletedRoleOutput, RoleOutput } from './outputs.js';

export const RoleId = z.uuid({ message: 'roleId must be a role id (uuid)' });
const RoleName = z.string().trim().min(1, 'name must not be empty').max(limits.roleNameMax, `name must be at most ${limits.roleNameMax} characters`);
const Position = z.number().int().min(1).max(limits.rolePositionMax);

export const CreateRoleInput = z.object({ scopeId: ScopeId, name: RoleName, permissions: PermissionsInput.default(0n), position: Position.optional() });
export const UpdateRoleInput = z.object({ roleId: RoleId, name: RoleName.optional(), permissions: PermissionsInput.optional(), position: Position.optional() });
export const RoleIdInput = z.object({ roleId: RoleId });
export const ListRolesInput = z.object({ scopeId: ScopeId });
export const AssignRoleInput = z.object({ roleId: RoleId, userId: UserId });

export const rolesRouter = router({
  /**
   * Creates a custom role on a community or group (it applies to the whole subtree):
   * `{ id, scopeId, kind, name, position, permissions, createdAt }`. Needs ManageRoles; the
   * flags must be ones the caller holds; the position below the caller's highest role.
   * Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST.
   */
  create: authedProcedure
    .input(CreateRoleInput)
    .output(RoleOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/roles', tags: ['roles'], summary: 'Create a role' } })
    .mutation(({ ctx, input }) => ctx.svc.roles.create(ctx.user.id, input)),

  /**
   * Changes a role's name, flags or position. Needs ManageRoles and a higher role; the
   * admin role's flags only owners change. Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST.
   */
  update: authedProcedure
    .input(UpdateRoleInput)
    .output(RoleOutput)
    .meta({ openapi: { method: 'PATCH', path: '/roles/{roleId}', tags: ['roles'], summary: 'Change a role\'s name, flags or position' } })
    .mutation(({ ctx, input }) => ctx.svc.roles.update(ctx.user.id, input)),

  /** Deletes a custom role below the caller's highest: `{ deleted: true }`. Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST (built-in). */
  delete: authedProcedure
    .input(RoleIdInput)
    .output(DeletedRoleOutput)
    .meta({ openapi: { method: 'DELETE', path: '/roles/{roleId}', tags: ['roles'], summary: 'Delete a custom role' } })
    .mutation(({ ctx, input }) => ctx.svc.roles.delete(ctx.user.id, input.roleId)),

  /** The roles that apply in a scope (its own and its ancestors'), highest first. Needs View. */
  list: authedProcedure
    .input(ListRolesInput)
    .output(z.array(RoleOutput))
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/roles', tags: ['roles'], summary: 'Roles that apply in a scope, highest first' } })
    .query(({ ctx, input }) => ctx.svc.roles.list(ctx.user.id, input.scopeId)),

  /**
   * Gives a role to a member of the role's scope: `{ roleId, userId, assigned: true }`.
   * Needs ManageRoles and to outrank both the role and the member. Idempotent.
   */
  assign: authedProcedure
    .input(AssignRoleInput)
    .output(AssignmentOutput)
    .meta({ openapi: { method: 'PUT', path: '/roles/{roleId}/members/{userId}', tags: ['roles'], summary: 'Give a role to a member' } })
    .mutation(({ ctx, input }) => ctx.svc.roles.setAssigned(ctx.user.id, input, true)),

  /** Takes a role away: `{ roleId, userId, assigned: false }`. Same rules as assign. Idempotent. */
  unassign: authedProcedure
    .input(AssignRoleInput)
    .output(AssignmentOutput)
    .meta({ openapi: { method: 'DELETE', path: '/roles/{roleId}/members/{userId}', tags: ['roles'], summary: 'Take a role away' } })
    .mutation(({ ctx, input }) => ctx.svc.roles.setAssigned(ctx.user.id, input, false)),
});
