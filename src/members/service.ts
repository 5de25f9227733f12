import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgErrorCode, pgErrorMessage } from '../db/client.js';
import { memberships, scopes, users } from '../db/schema/index.js';
import { AppError, conflict, forbidden, invalid, notFound } from '../errors.js';
import { asActor, rowsOf, type Tx } from '../audit/actor.js';
import { appendEvent } from '../messages/log.js';
import { toScopeEvent, type ScopeEvent } from '../messages/events.js';
import { canActOn } from '../permissions/compute.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import type { ScopeHub } from '../realtime/hub.js';
import { lockScopesForMembership } from './locks.js';

/** A membership as clients see it. */
export interface Membership {
  scopeId: string;
  userId: string;
  isOwner: boolean;
  joinedAt: Date;
}

/** One row of `members.list`. */
export interface MemberView extends Membership {
  displayName: string;
  /** Set while the member is timed out here. */
  timedOutUntil: Date | null;
}

/** A page of `members.list`: pass `nextCursor` as `cursor` for the next (null at the end). */
export interface MemberPage {
  items: MemberView[];
  nextCursor: string | null;
}

type LeftReason = 'left' | 'removed' | 'kicked' | 'banned';


async function announce(tx: Tx, scopeId: string, actorId: string, type: 'member.joined' | 'member.left', payload: Record<string, unknown>): Promise<ScopeEvent> {
  return toScopeEvent(await appendEvent(tx, { scopeId, type, actorId, payload }), null);
}

/**
 * Membership of scopes, and ownership. The parent rule, the cascade on leave, the
 * last-owner rule and the ban rule are triggers (drizzle/0004, drizzle/0006); this checks
 * permissions through the AccessService, announces joins and leaves in the conversation
 * (`member.joined`, `member.left`) and tells open subscriptions when access ended.
 */
export class MemberService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly hub: ScopeHub,
  ) {}

  /**
   * Joins a public scope whose parent the caller belongs to. Idempotent: joining again
   * returns the existing membership.
   * @throws NotFound for an unknown or hidden scope (private, secret, banned);
   *   Forbidden for a dm, a non-public scope, or without membership of the parent.
   */
  async join(scopeId: string, userId: string): Promise<Membership> {
    const a = await this.access.see(userId, scopeId);
    const existing = await this.find(scopeId, userId);
    if (existing) return existing;
    if (a.scope.kind === 'dm') throw forbidden('direct conversations cannot be joined');
    if (a.scope.visibility !== 'public') throw forbidden(`this ${a.scope.kind} is ${a.scope.visibility}; it needs an invite`);
    return this.insert(userId, scopeId, userId, 'members.join');
  }

  /**
   * Adds `targetId` to a scope (any visibility; the way into private scopes besides
   * invites). Needs ManageMembers in the scope; the target must already belong to the
   * parent and not be banned. Idempotent.
   * @throws NotFound, Forbidden (flag, parent rule, banned).
   */
  async add(actorId: string, scopeId: string, targetId: string): Promise<Membership> {
    const a = await this.access.require(actorId, scopeId, Permission.ManageMembers);
    if (a.scope.kind === 'dm') throw forbidden('members of a direct conversation are fixed; open a new one');
    const existing = await this.find(scopeId, targetId);
    if (existing) return existing;
    return this.insert(actorId, scopeId, targetId, 'members.add');
  }

  /**
   * Inserts a membership in one transaction with its `member.joined` event.
   * Used by join, add, invites and dms.
   */
  async insert(actorId: string, scopeId: string, userId: string, action: string): Promise<Membership> {
    let event: ScopeEvent | null = null;
    let row: Membership | undefined;
    try {
      row = await asActor(this.db, actorId, action, async (tx) => {
        const r = await this.insertIn(tx, scopeId, userId, actorId);
        if (r.event) event = r.event;
        return r.membership;
      });
    } catch (err) {
      throw mapMemberError(err);
    }
    if (event) await this.hub.publish(event);
    return row;
  }

  /** The membership insert inside a caller's transaction; `event` is null when it existed. */
  async insertIn(tx: Tx, scopeId: string, userId: string, actorId: string): Promise<{ membership: Membership; event: ScopeEvent | null }> {
    await lockScopesForMembership(tx, scopeId, false);
    const [row] = await tx.insert(memberships).values({ scopeId, userId }).onConflictDoNothing().returning();
    if (!row) {
      const [old] = await tx
        .select()
        .from(memberships)
        .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)));
      return { membership: toMembership(old!), event: null };
    }
    const event = await announce(tx, scopeId, actorId, 'member.joined', { userId });
    // Where this member's view starts under historyVisibility `joined`.
    await tx.update(memberships).set({ joinedSeq: event.seq }).where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)));
    return { membership: toMembership(row), event };
  }

  /**
   * Leaves a scope and, by trigger, every scope below it.
   * @throws NotFound when not a member; Conflict for the last owner of a community or group.
   */
  async leave(userId: string, scopeId: string): Promise<{ left: number }> {
    if (!(await this.find(scopeId, userId))) throw notFound(`you are not a member of scope ${scopeId}`);
    return this.removeMembership(userId, scopeId, userId, 'left', 'members.leave');
  }

  /**
   * Removes `targetId` from a scope and everything below it. Needs ManageMembers, and
   * the hierarchy: the target's highest role must be below the actor's, and only owners
   * act on owners (compute.ts `canActOn`). Returns `{ left }`, the memberships removed.
   * @throws NotFound (scope, or not a member), Forbidden, Conflict (last owner).
   */
  async remove(actorId: string, scopeId: string, targetId: string): Promise<{ left: number }> {
    await this.requireActOn(actorId, scopeId, targetId, Permission.ManageMembers);
    return this.removeMembership(actorId, scopeId, targetId, 'removed', 'members.remove');
  }

  /**
   * Checks that `actorId` holds `flag` in `scopeId` and outranks `targetId` there, who
   * must be a member. Shared by remove and the moderation actions.
   * @throws NotFound, Forbidden, Invalid (acting on oneself).
   */
  async requireActOn(actorId: string, scopeId: string, targetId: string, flag: bigint, opts: { needMember?: boolean } = {}) {
    const actor = await this.access.require(actorId, scopeId, flag);
    if (actorId === targetId) throw invalid('you cannot do this to yourself');
    const target = await this.access.resolve(targetId, scopeId);
    if ((opts.needMember ?? true) && !target.isMember) throw notFound(`user ${targetId} is not a member of this ${actor.scope.kind}`);
    if (!canActOn(actor, target)) {
      throw forbidden(target.isOwner ? 'only an owner may act on an owner' : 'their highest role is equal to or above yours');
    }
    return { actor, target };
  }

  /**
   * Deletes a membership (the trigger cascades below), announces `member.left` in each
   * scope it left, and ends open subscriptions there. Returns `{ left }`.
   */
  async removeMembership(actorId: string, scopeId: string, userId: string, reason: LeftReason, action: string, more?: (tx: Tx) => Promise<void>): Promise<{ left: number }> {
    const events: ScopeEvent[] = [];
    let left = 0;
    try {
      await asActor(this.db, actorId, action, async (tx) => {
        await lockScopesForMembership(tx, scopeId, true);
        if (more) await more(tx);
        const below = await tx
          .select({ id: memberships.scopeId })
          .from(memberships)
          .innerJoin(scopes, eq(scopes.id, memberships.scopeId))
          .where(and(eq(memberships.userId, userId), sql`(${scopes.id} = ${scopeId} or ${scopeId}::uuid = any (${scopes.path}))`));
        if (below.length === 0) return;
        // The user-stream trigger reads the reason (drizzle/0010_user_events_triggers.sql).
        await tx.execute(sql`select set_config('guildhall.membership_reason', ${reason}, true)`);
        await tx.delete(memberships).where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)));
        left = below.length;
        for (const { id } of below) events.push(await announce(tx, id, actorId, 'member.left', { userId, reason }));
      });
    } catch (err) {
      throw mapMemberError(err);
    }
    for (const ev of events) await this.hub.publish(ev);
    await this.access.notify(scopeId, [userId]);
    return { left };
  }

  /**
   * `members.list`: members of a scope the caller can view, ordered by user id, `limit`
   * per page (1..100). Needs View. @throws NotFound, Forbidden.
   */
  async list(actorId: string, scopeId: string, cursor: string | undefined, limit: number): Promise<MemberPage> {
    await this.access.require(actorId, scopeId, Permission.View);
    const rows = await this.db
      .select({
        scopeId: memberships.scopeId,
        userId: memberships.userId,
        isOwner: memberships.isOwner,
        joinedAt: memberships.joinedAt,
        timedOutUntil: memberships.timedOutUntil,
        displayName: users.displayName,
      })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.scopeId, scopeId), cursor ? gt(memberships.userId, cursor) : undefined))
      .orderBy(asc(memberships.userId))
      .limit(limit + 1);
    const items = rows.slice(0, limit).map((r) => ({
      ...r,
      timedOutUntil: r.timedOutUntil && r.timedOutUntil > new Date() ? r.timedOutUntil : null,
    }));
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.userId : null };
  }

  // ------------------------------------------------------------ owners

  /**
   * `owners.add`: makes a member of a community or group an owner of it. Owners only
   * (OWNER_ONLY_ACTIONS manageOwners). @throws NotFound (not a member), Forbidden, Invalid (a room or dm).
   */
  async addOwner(actorId: string, scopeId: string, targetId: string): Promise<Membership> {
    const a = await this.access.requireOwner(actorId, scopeId, 'manage owners');
    if (a.scope.kind !== 'community' && a.scope.kind !== 'group') throw invalid(`a ${a.scope.kind} has no owners of its own`);
    const row = await this.setOwner(actorId, scopeId, targetId, true, 'owners.add');
    await this.access.notify(scopeId, [targetId]);
    return row;
  }

  /**
   * `owners.remove`: takes ownership away (from oneself or a co-owner). Owners only. The
   * trigger keeps at least one owner, also against two owners demoting each other at once.
   * @throws NotFound, Forbidden, Conflict (the last owner).
   */
  async removeOwner(actorId: string, scopeId: string, targetId: string): Promise<Membership> {
    await this.access.requireOwner(actorId, scopeId, 'manage owners');
    const row = await this.setOwner(actorId, scopeId, targetId, false, 'owners.remove');
    await this.access.notify(scopeId, [targetId]);
    return row;
  }

  /**
   * `owners.transfer`: in one transaction makes `targetId` an owner and the caller not.
   * The caller must own this very scope (not only an ancestor).
   * @throws NotFound, Forbidden, Invalid.
   */
  async transferOwnership(actorId: string, scopeId: string, targetId: string): Promise<Membership> {
    const a = await this.access.requireOwner(actorId, scopeId, 'transfer ownership');
    if (a.scope.kind !== 'community' && a.scope.kind !== 'group') throw invalid(`a ${a.scope.kind} has no owners of its own`);
    if (actorId === targetId) throw invalid('you already own it');
    const mine = await this.find(scopeId, actorId);
    if (!mine?.isOwner) throw forbidden(`you own an ancestor, not this ${a.scope.kind}; use owners.add`);
    let row!: Membership;
    try {
      await asActor(this.db, actorId, 'owners.transfer', async (tx) => {
        row = await this.setOwnerIn(tx, scopeId, targetId, true);
        await this.setOwnerIn(tx, scopeId, actorId, false);
      });
    } catch (err) {
      throw mapMemberError(err);
    }
    await this.access.notify(scopeId, [actorId, targetId]);
    return row;
  }

  /**
   * `permissions.setMemberGrant`: flags of a member's own at a community or group
   * (applies like a role defined there). Owners only (OWNER_ONLY_ACTIONS grantMemberFlags).
   */
  async setMemberGrant(actorId: string, scopeId: string, targetId: string, permissions: bigint): Promise<Membership & { grantedPermissions: bigint }> {
    const a = await this.access.requireOwner(actorId, scopeId, 'give a member flags of their own');
    if (a.scope.kind !== 'community' && a.scope.kind !== 'group') throw invalid('member grants live on a community or group');
    const rows = await asActor(this.db, actorId, 'permissions.setMemberGrant', (tx) =>
      tx
        .update(memberships)
        .set({ grantedPermissions: permissions })
        .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, targetId)))
        .returning(),
    );
    if (!rows[0]) throw notFound(`user ${targetId} is not a member of this ${a.scope.kind}`);
    await this.access.notify(scopeId, [targetId]);
    return { ...toMembership(rows[0]), grantedPermissions: rows[0].grantedPermissions };
  }

  /** Sets `timed_out_until` of a member (moderation.timeout). */
  async setTimeout(actorId: string, scopeId: string, targetId: string, until: Date | null): Promise<void> {
    await asActor(this.db, actorId, until ? 'moderation.timeout' : 'moderation.untimeout', (tx) =>
      tx
        .update(memberships)
        .set({ timedOutUntil: until })
        .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, targetId))),
    );
    await this.access.notify(scopeId, [targetId]);
  }

  private async setOwner(actorId: string, scopeId: string, targetId: string, isOwner: boolean, action: string): Promise<Membership> {
    try {
      return await asActor(this.db, actorId, action, (tx) => this.setOwnerIn(tx, scopeId, targetId, isOwner));
    } catch (err) {
      throw mapMemberError(err);
    }
  }

  private async setOwnerIn(tx: Tx, scopeId: string, userId: string, isOwner: boolean): Promise<Membership> {
    const [row] = await tx
      .update(memberships)
      .set({ isOwner })
      .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)))
      .returning();
    if (!row) throw notFound(`user ${userId} is not a member of this scope; add them first`);
    return toMembership(row);
  }

  /**
   * Which of `userIds` share a live scope (a community, group, room or DM) with `userId`;
   * `userId` itself always counts. One query. For presence (docs/architecture.md "Access and moderation": visible only
   * to users who share a scope with the target, or have a DM with them), and with `kind`
   * 'community' for DMs (a DM needs a shared community, as in Discord).
   */
  async sharingWith(userId: string, userIds: readonly string[], kind?: 'community'): Promise<Set<string>> {
    const shared = new Set(userIds.filter((id) => id === userId));
    const others = userIds.filter((id) => id !== userId);
    if (others.length === 0) return shared;
    const rows = await rowsOf<{ user_id: string }>(
      this.db,
      sql`select distinct m2.user_id
            from memberships m1
            join memberships m2 on m2.scope_id = m1.scope_id
            join scopes s on s.id = m1.scope_id and s.deleted_at is null ${kind ? sql`and s.kind = ${kind}` : sql``}
           where m1.user_id = ${userId} and m2.user_id in (${sql.join(others.map((id) => sql`${id}::uuid`), sql`, `)})`,
    );
    for (const r of rows) shared.add(r.user_id);
    return shared;
  }

  /** The memberships of `userId` among `scopeIds`. */
  async memberOf(userId: string, scopeIds: string[]): Promise<Set<string>> {
    if (scopeIds.length === 0) return new Set();
    const rows = await this.db
      .select({ id: memberships.scopeId })
      .from(memberships)
      .where(and(eq(memberships.userId, userId), inArray(memberships.scopeId, scopeIds)));
    return new Set(rows.map((r) => r.id));
  }

  /** The seq of the member.joined of `userId`'s membership of `scopeId` (0 when none or not a member). */
  async joinedSeq(scopeId: string, userId: string): Promise<number> {
    const [row] = await this.db
      .select({ seq: memberships.joinedSeq })
      .from(memberships)
      .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)))
      .limit(1);
    return row?.seq ?? 0;
  }

  /** The membership of `userId` in `scopeId`, or null. */
  async find(scopeId: string, userId: string): Promise<Membership | null> {
    const [row] = await this.db
      .select()
      .from(memberships)
      .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)))
      .limit(1);
    return row ? toMembership(row) : null;
  }
}

function toMembership(r: typeof memberships.$inferSelect): Membership {
  return { scopeId: r.scopeId, userId: r.userId, isOwner: r.isOwner, joinedAt: r.joinedAt };
}

/** Maps membership triggers' refusals: parent rule and last owner, bans, unknown users. */
export function mapMemberError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = pgErrorCode(err);
  const msg = pgErrorMessage(err);
  if (code === '23514' && /parent/.test(msg)) return forbidden('join the parent scope first');
  if (code === '23514' && /owner/.test(msg)) return conflict(`${msg}; add another owner first`);
  if (code === '23514') return invalid(msg);
  if (code === '42501') return forbidden(msg);
  if (code === '23503') return notFound('no such user or scope');
  return err;
}
