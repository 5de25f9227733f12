import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { permissionOverwrites, roles } from '../db/schema/index.js';
import { forbidden, notFound } from '../errors.js';
import { asActor } from '../audit/actor.js';
import { canActOn, canGrant } from './compute.js';
import { Permission, toNames } from './flags.js';
import type { Access, AccessService } from './service.js';

/** An overwrite as clients see it. */
export interface Overwrite {
  scopeId: string;
  targetType: 'role' | 'member';
  /** A role id or a user id, by `targetType`. */
  targetId: string;
  allow: bigint;
  deny: bigint;
}

/**
 * Permission overwrites (allow and deny per role or member on one scope). Editing them
 * needs ManageScope in the scope (flags.ts: "Edit the scope (name, visibility,
 * overwrites)"); the flags set or cleared must be ones the caller holds, and the target
 * (a role or a member) must rank below the caller, so nobody lifts themselves or a peer.
 */
export class OverwriteService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
  ) {}

  /**
   * `permissions.setOverwrite`: creates or replaces the overwrite of a target on a scope.
   * A role target must be defined on the scope or an ancestor.
   * @throws NotFound (scope, role), Forbidden (flag, hierarchy, ungrantable flags).
   */
  async set(actorId: string, input: Overwrite): Promise<Overwrite> {
    const actor = await this.access.require(actorId, input.scopeId, Permission.ManageScope);
    await this.checkTarget(actor, input.targetType, input.targetId);
    const [old] = await this.find(input);
    const changed = (input.allow | input.deny) ^ (old ? old.allow | old.deny : 0n);
    if (!canGrant(actor, input.allow | input.deny | changed)) {
      throw forbidden(`you cannot grant or deny flags you do not hold: ${toNames((input.allow | input.deny | changed) & ~actor.permissions).join(', ')}`);
    }
    const [row] = await asActor(this.db, actorId, 'permissions.setOverwrite', (tx) =>
      tx
        .insert(permissionOverwrites)
        .values(input)
        .onConflictDoUpdate({
          target: [permissionOverwrites.scopeId, permissionOverwrites.targetType, permissionOverwrites.targetId],
          set: { allow: input.allow, deny: input.deny },
        })
        .returning(),
    );
    await this.access.notify(input.scopeId);
    return row!;
  }

  /**
   * `permissions.clearOverwrite`: removes a target's overwrite from a scope. Same rules as set.
   * Returns `{ cleared: true }`. @throws NotFound (scope, no such overwrite), Forbidden.
   */
  async clear(actorId: string, input: Pick<Overwrite, 'scopeId' | 'targetType' | 'targetId'>): Promise<{ cleared: true }> {
    const actor = await this.access.require(actorId, input.scopeId, Permission.ManageScope);
    await this.checkTarget(actor, input.targetType, input.targetId);
    const [old] = await this.find(input);
    if (!old) throw notFound('there is no such overwrite on this scope');
    if (!canGrant(actor, old.allow | old.deny)) throw forbidden('this overwrite sets flags you do not hold');
    await asActor(this.db, actorId, 'permissions.clearOverwrite', (tx) =>
      tx
        .delete(permissionOverwrites)
        .where(matching(input)),
    );
    await this.access.notify(input.scopeId);
    return { cleared: true };
  }

  /** `permissions.listOverwrites`: the overwrites on one scope. Needs View. */
  async list(actorId: string, scopeId: string): Promise<Overwrite[]> {
    await this.access.require(actorId, scopeId, Permission.View);
    return this.db.select().from(permissionOverwrites).where(eq(permissionOverwrites.scopeId, scopeId));
  }

  private find(k: Pick<Overwrite, 'scopeId' | 'targetType' | 'targetId'>) {
    return this.db
      .select()
      .from(permissionOverwrites)
      .where(matching(k))
      .limit(1);
  }

  private async checkTarget(actor: Access, targetType: 'role' | 'member', targetId: string) {
    if (targetType === 'role') {
      const [role] = await this.db
        .select()
        .from(roles)
        .where(and(eq(roles.id, targetId), inArray(roles.scopeId, [...actor.scope.path, actor.scope.id])))
        .limit(1);
      if (!role) throw notFound(`role ${targetId} is not defined on this scope or above it`);
      if (role.kind !== 'everyone' && !canActOn(actor, { isOwner: false, highestRolePosition: role.position })) {
        throw forbidden(`the role "${role.name}" is equal to or above your highest role`);
      }
      return;
    }
    const target = await this.access.resolve(targetId, actor.scope.id);
    if (!canActOn(actor, target)) {
      throw forbidden(target.isOwner ? 'only an owner may set overwrites for an owner' : "the member's highest role is equal to or above yours");
    }
  }
}

/** The condition selecting the one overwrite of a target on a scope. */
function matching(k: Pick<Overwrite, 'scopeId' | 'targetType' | 'targetId'>) {
  return and(
    eq(permissionOverwrites.scopeId, k.scopeId),
    eq(permissionOverwrites.targetType, k.targetType),
    eq(permissionOverwrites.targetId, k.targetId),
  );
}
