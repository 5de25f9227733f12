import { randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { invites } from '../db/schema/index.js';
import { forbidden, invalid, notFound } from '../errors.js';
import { asActor, type Tx } from '../audit/actor.js';
import type { ScopeEvent } from '../messages/events.js';
import type { MemberService, Membership } from '../members/service.js';
import { mapMemberError } from '../members/service.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import type { ScopeHub } from '../realtime/hub.js';
import type { ScopeService } from '../scopes/service.js';
import type { Scope } from '../scopes/types.js';

/** An invite as its creator sees it. */
export interface Invite {
  id: string;
  /** The secret that redeems it (22 characters of base64url, 128 random bits). */
  code: string;
  scopeId: string;
  createdBy: string;
  maxUses: number | null;
  uses: number;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

/** What `invites.redeem` returns. */
export interface Redemption {
  scope: Scope;
  membership: Membership;
  /** False when the caller was already a member (no use was taken). */
  joined: boolean;
}

/**
 * Invites to a scope. Redemption is atomic: one conditional UPDATE takes a use under the
 * invite row's lock (`uses < max_uses`, not revoked, not expired), and the memberships are
 * inserted in the same transaction, so N parallel redemptions of a k-use invite make at
 * most k members, and a failed insert gives the use back. One user's parallel redemptions
 * take at most one use: the one that finds the membership already made rolls back.
 */
export class InviteService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly members: MemberService,
    private readonly scopes: ScopeService,
    private readonly hub: ScopeHub,
  ) {}

  /**
   * `invites.create`: needs CreateInvites in the scope (not a dm).
   * @throws NotFound, Forbidden, Invalid (an expiry in the past or beyond 90 days).
   */
  async create(actorId: string, input: { scopeId: string; maxUses?: number | undefined; expiresAt?: Date | undefined }): Promise<Invite> {
    const a = await this.access.require(actorId, input.scopeId, Permission.CreateInvites);
    if (a.scope.kind === 'dm') throw invalid('direct conversations have no invites');
    if (input.expiresAt) {
      const ms = input.expiresAt.getTime() - Date.now();
      if (ms <= 0) throw invalid('expiresAt must be in the future');
      if (ms > limits.inviteMaxLifetimeMs) throw invalid(`an invite lasts at most ${limits.inviteMaxLifetimeMs / 86_400_000} days`);
    }
    const [row] = await asActor(this.db, actorId, 'invites.create', (tx) =>
      tx
        .insert(invites)
        .values({
          code: randomBytes(16).toString('base64url'),
          scopeId: input.scopeId,
          createdBy: actorId,
          maxUses: input.maxUses ?? null,
          expiresAt: input.expiresAt ?? null,
        })
        .returning(),
    );
    return row!;
  }

  /**
   * `invites.redeem`: makes the caller a member of the invite's scope and of any ancestor
   * they are not yet in (the invite vouches for the path, as a Discord invite does for a
   * server). Already a member: returns with `joined: false` and takes no use.
   * @throws NotFound (unknown code), Invalid (revoked, expired, used up), Forbidden (banned).
   */
  async redeem(userId: string, code: string): Promise<Redemption> {
    const [inv] = await this.db.select().from(invites).where(eq(invites.code, code)).limit(1);
    if (!inv) throw notFound('no invite has this code; check it or ask for a new one');
    const scope = await this.liveScope(inv.scopeId);
    const standing = await this.access.resolve(userId, inv.scopeId);
    if (standing.banned) throw forbidden(`you are banned from this ${scope.kind}`);
    const existing = await this.members.find(inv.scopeId, userId);
    if (existing) return { scope, membership: existing, joined: false };

    const events: ScopeEvent[] = [];
    let membership!: Membership;
    try {
      await asActor(this.db, userId, 'invites.redeem', async (tx) => {
        const [taken] = await tx
          .update(invites)
          .set({ uses: sql`${invites.uses} + 1` })
          .where(
            and(
              eq(invites.id, inv.id),
              isNull(invites.revokedAt),
              sql`(${invites.expiresAt} is null or ${invites.expiresAt} > now())`,
              sql`(${invites.maxUses} is null or ${invites.uses} < ${invites.maxUses})`,
            ),
          )
          .returning();
        if (!taken) throw await this.whyRefused(tx, inv.id);
        for (const id of [...scope.path, scope.id]) {
          const r = await this.members.insertIn(tx, id, userId, userId);
          if (r.event) events.push(r.event);
          membership = r.membership;
          // A redemption of the same user committed first (the insert waited for it): roll
          // back, so the use taken above is given back. One user takes at most one use.
          if (id === scope.id && !r.event) throw new AlreadyMember(r.membership);
        }
      });
    } catch (err) {
      if (err instanceof AlreadyMember) return { scope, membership: err.membership, joined: false };
      throw mapMemberError(err);
    }
    for (const ev of events) await this.hub.publish(ev);
    return { scope, membership, joined: true };
  }

  /**
   * `invites.revoke`: by its creator, or by anyone with ManageScope in its scope.
   * Idempotent. @throws NotFound (unknown or hidden), Forbidden.
   */
  async revoke(actorId: string, inviteId: string): Promise<Invite> {
    const [inv] = await this.db.select().from(invites).where(eq(invites.id, inviteId)).limit(1);
    if (!inv) throw notFound(`invite ${inviteId} not found`);
    const a = await this.access.resolve(actorId, inv.scopeId).catch(() => null);
    if (!a?.visible) throw notFound(`invite ${inviteId} not found`);
    if (inv.createdBy !== actorId) await this.access.require(actorId, inv.scopeId, Permission.ManageScope);
    if (inv.revokedAt) return inv;
    const [row] = await asActor(this.db, actorId, 'invites.revoke', (tx) =>
      tx.update(invites).set({ revokedAt: sql`now()` }).where(eq(invites.id, inviteId)).returning(),
    );
    return row!;
  }

  /** `invites.list`: the invites of a scope, newest first (at most 100). Needs ManageScope. */
  async list(actorId: string, scopeId: string): Promise<Invite[]> {
    await this.access.require(actorId, scopeId, Permission.ManageScope);
    return this.db.select().from(invites).where(eq(invites.scopeId, scopeId)).orderBy(desc(invites.createdAt)).limit(limits.pageMax);
  }

  private async liveScope(scopeId: string): Promise<Scope> {
    return this.scopes.get(scopeId).catch(() => {
      throw invalid('this invite leads to a scope that no longer exists');
    });
  }

  /** The reason a use could not be taken, as a domain error. */
  private async whyRefused(tx: Tx, inviteId: string): Promise<Error> {
    // Read through the transaction's own connection: the pool may be all waiting on this row.
    const [inv] = await tx.select().from(invites).where(eq(invites.id, inviteId)).limit(1);
    if (!inv) return notFound('no invite has this code');
    if (inv.revokedAt) return invalid('this invite was revoked; ask for a new one');
    if (inv.expiresAt && inv.expiresAt <= new Date()) return invalid(`this invite expired at ${inv.expiresAt.toISOString()}`);
    return invalid('this invite has no uses left');
  }
}

/** Thrown inside a redemption to roll it back: the user became a member meanwhile. */
class AlreadyMember extends Error {
  constructor(readonly membership: Membership) {
    super('already a member');
  }
}
