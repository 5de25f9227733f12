import { and, count, desc, eq, inArray, max } from 'drizzle-orm';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { pgErrorCode } from '../db/client.js';
import { roleAssignments, roles } from '../db/schema/index.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { asActor } from '../audit/actor.js';
import { canActOn, canGrant } from '../permissions/compute.js';
import { Permission, toNames } from '../permissions/flags.js';
import type { Access, AccessService } from '../permissions/service.js';

/** A role as clients see it. `permissions` is a bigint bitfield (superjson carries it). */
export interface Role {
  id: string;
  /** The community or group that defines it; it applies to that scope's whole subtree. */
  scopeId: string;
  /** 'everyone' and 'admin' are built in (one each per community); 'custom' are made by roles.create. */
  kind: 'everyone' | 'admin' | 'custom';
  name: string;
  /** Rank in the community's one role order: everyone 0, custom 1..999,999, admin 1,000,000. */
  position: number;
  permissions: bigint;
  createdAt: Date;
}

type RoleRow = typeof roles.$inferSelect;
const toRole = (r: RoleRow): Role => ({ ...r });

/** Fails with the names of the flags the actor may not grant. */
function requireGrant(actor: Access, flags: bigint) {
  if (!canGrant(actor, flags)) {
    throw forbidden(`you cannot grant flags you do not hold: ${toNames(flags & ~actor.permissions).join(', ') || 'unknown flags'}`);
  }
}

/** Fails unless the actor outranks a role (docs/architecture.md role hierarchy; compute.ts canActOn). */
function requireOutrank(actor: Access, role: Pick<Role, 'position' | 'name'>) {
  if (!canActOn(actor, { isOwner: false, highestRolePosition: role.position })) {
    throw forbidden(`the role "${role.name}" is equal to or above your highest role`);
  }
}

/**
 * Roles defined on a community or group, and who holds them. Every rule here is
 * Discord's role hierarchy as docs/architecture.md states it: ManageRoles to touch roles at all;
 * nobody creates, edits, deletes or assigns a role at or above their own highest role;
 * nobody grants a flag they do not hold; the admin role's flags are the owners' to set.
 */
export class RoleService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
  ) {}

  /**
   * `roles.create`: a custom role on a community or group. Position defaults to just
   * below the caller's highest role (owners: above every custom role).
   * @throws NotFound, Forbidden (flag, hierarchy, ungrantable flags), Invalid (a room, too many roles).
   */
  async create(actorId: string, input: { scopeId: string; name: string; permissions: bigint; position?: number | undefined }): Promise<Role> {
    const a = await this.access.require(actorId, input.scopeId, Permission.ManageRoles);
    if (a.scope.kind !== 'community' && a.scope.kind !== 'group') throw invalid('roles are defined on a community or group');
    requireGrant(a, input.permissions);
    const [{ n } = { n: 0 }] = await this.db
      .select({ n: count() })
      .from(roles)
      .where(and(eq(roles.scopeId, input.scopeId), eq(roles.kind, 'custom')));
    if (n >= limits.rolesPerScopeMax) throw invalid(`a ${a.scope.kind} holds at most ${limits.rolesPerScopeMax} roles`);
    const position = input.position ?? (await this.defaultPosition(a));
    this.checkPosition(a, position);
    const [row] = await asActor(this.db, actorId, 'roles.create', (tx) =>
      tx.insert(roles).values({ scopeId: input.scopeId, name: input.name, permissions: input.permissions, position }).returning(),
    );
    return toRole(row!);
  }

  /**
   * `roles.update`: name, permissions, position. The everyone role keeps its name and
   * position; the admin role's flags only owners change (OWNER_ONLY_ACTIONS editAdminRole),
   * its name and position are fixed. Changed flags must all be grantable by the caller.
   * @throws NotFound, Forbidden, Invalid.
   */
  async update(actorId: string, input: { roleId: string; name?: string | undefined; permissions?: bigint | undefined; position?: number | undefined }): Promise<Role> {
    const { role, actor } = await this.load(actorId, input.roleId);
    if (role.kind !== 'custom' && (input.name !== undefined || input.position !== undefined)) {
      throw invalid(`the built-in ${role.kind} role keeps its name and position`);
    }
    if (role.kind === 'admin') {
      if (!actor.isOwner) throw forbidden("only an owner may change the admin role's flags");
    } else {
      requireOutrank(actor, role);
    }
    if (input.permissions !== undefined) requireGrant(actor, input.permissions ^ role.permissions);
    if (input.position !== undefined) this.checkPosition(actor, input.position);
    const set: Partial<RoleRow> = {};
    if (input.name !== undefined) set.name = input.name;
    if (input.permissions !== undefined) set.permissions = input.permissions;
    if (input.position !== undefined) set.position = input.position;
    if (Object.keys(set).length === 0) return role;
    const [row] = await asActor(this.db, actorId, 'roles.update', (tx) => tx.update(roles).set(set).where(eq(roles.id, role.id)).returning());
    await this.access.notify(role.scopeId);
    return toRole(row!);
  }

  /** `roles.delete`: a custom role below the caller's highest. Returns `{ deleted: true }`. @throws NotFound, Forbidden, Invalid (built-in). */
  async delete(actorId: string, roleId: string): Promise<{ deleted: true }> {
    const { role, actor } = await this.load(actorId, roleId);
    if (role.kind !== 'custom') throw invalid(`the built-in ${role.kind} role cannot be deleted`);
    requireOutrank(actor, role);
    await asActor(this.db, actorId, 'roles.delete', (tx) => tx.delete(roles).where(eq(roles.id, role.id)));
    await this.access.notify(role.scopeId);
    return { deleted: true };
  }

  /**
   * `roles.list`: the roles that apply in a scope (defined on it or its ancestors),
   * highest position first. Needs View. @throws NotFound, Forbidden.
   */
  async list(actorId: string, scopeId: string): Promise<Role[]> {
    const a = await this.access.require(actorId, scopeId, Permission.View);
    const rows = await this.db
      .select()
      .from(roles)
      .where(inArray(roles.scopeId, [...a.scope.path, a.scope.id]))
      .orderBy(desc(roles.position), roles.id);
    return rows.map(toRole);
  }

  /**
   * `roles.assign` / `roles.unassign`: gives or takes a role from a member of the role's
   * scope. The caller needs ManageRoles there and must outrank both the role and the
   * member (so the admin role is assigned by owners only). Idempotent.
   * @throws NotFound (role, not a member), Forbidden, Invalid (the everyone role).
   */
  async setAssigned(actorId: string, input: { roleId: string; userId: string }, assigned: boolean): Promise<{ roleId: string; userId: string; assigned: boolean }> {
    const { role, actor } = await this.load(actorId, input.roleId);
    if (role.kind === 'everyone') throw invalid('every member holds the everyone role; it is not assigned');
    requireOutrank(actor, role);
    // Giving a role grants its flags: the caller must hold them all.
    if (assigned) requireGrant(actor, role.permissions);
    const target = await this.access.resolve(input.userId, role.scopeId);
    if (assigned && !target.isMember) throw notFound(`user ${input.userId} is not a member of this ${actor.scope.kind}`);
    if (input.userId !== actorId && !canActOn(actor, target)) {
      throw forbidden(target.isOwner ? 'only an owner may change the roles of an owner' : "the member's highest role is equal to or above yours");
    }
    try {
      await asActor(this.db, actorId, assigned ? 'roles.assign' : 'roles.unassign', async (tx) => {
        if (assigned) await tx.insert(roleAssignments).values({ roleId: role.id, userId: input.userId }).onConflictDoNothing();
        else await tx.delete(roleAssignments).where(and(eq(roleAssignments.roleId, role.id), eq(roleAssignments.userId, input.userId)));
      });
    } catch (err) {
      if (pgErrorCode(err) === '23503') throw notFound(`user ${input.userId} not found`);
      throw err;
    }
    await this.access.notify(role.scopeId, [input.userId]);
    return { roleId: role.id, userId: input.userId, assigned };
  }

  /** A role and the caller's standing in its scope (ManageRoles required). @throws NotFound, Forbidden. */
  private async load(actorId: string, roleId: string): Promise<{ role: Role; actor: Access }> {
    const [row] = await this.db.select().from(roles).where(eq(roles.id, roleId)).limit(1);
    if (!row) throw notFound(`role ${roleId} not found`);
    const actor = await this.access.resolve(actorId, row.scopeId).catch(() => null);
    if (!actor?.visible) throw notFound(`role ${roleId} not found`);
    await this.access.require(actorId, row.scopeId, Permission.ManageRoles);
    return { role: toRole(row), actor };
  }

  private async defaultPosition(a: Access): Promise<number> {
    if (a.isOwner) {
      const [{ top } = { top: 0 }] = await this.db
        .select({ top: max(roles.position) })
        .from(roles)
        .where(and(inArray(roles.scopeId, [...a.scope.path, a.scope.id]), eq(roles.kind, 'custom')));
      return Math.min(limits.rolePositionMax, (top ?? 0) + 1);
    }
    return Math.min(limits.rolePositionMax, a.highestRolePosition - 1);
  }

  private checkPosition(a: Access, position: number) {
    if (position < 1 || position > limits.rolePositionMax) throw invalid(`position must be between 1 and ${limits.rolePositionMax}`);
    if (!a.isOwner && position >= a.highestRolePosition) throw forbidden('a role must sit below your highest role');
  }
}

/** Turns a unique-violation into a Conflict (kept for callers that insert roles directly). */
export function mapRoleError(err: unknown): unknown {
  if (pgErrorCode(err) === '23505') return conflict('that role already exists');
  return err;
}
