import { and, eq, sql } from 'drizzle-orm';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { bans } from '../db/schema/index.js';
import type { MessageService } from '../messages/service.js';
import type { ScopeEvent } from '../messages/events.js';
import type { ScopeHub } from '../realtime/hub.js';
import { invalid, notFound } from '../errors.js';
import { asActor } from '../audit/actor.js';
import type { MemberService } from '../members/service.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';

/** A ban as moderators see it. */
export interface Ban {
  scopeId: string;
  userId: string;
  reason: string;
  bannedBy: string | null;
  createdAt: Date;
}

/**
 * Kick, ban, unban and timeout. Each needs its flag (KickMembers, BanMembers,
 * TimeoutMembers) in the scope and, for acting on a member, the role hierarchy
 * (compute.ts `canActOn`: nobody acts on an equal or higher role; only owners act on
 * owners). A kicked or banned member leaves the scope and everything below it; their open
 * subscriptions there end with FORBIDDEN on every instance (AccessService.notify).
 */
export class ModerationService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly members: MemberService,
    private readonly messages: MessageService,
    private readonly hub: ScopeHub,
  ) {}

  /** `moderation.kick`: removes a member (they may join again): `{ left }`. @throws NotFound, Forbidden, Invalid (yourself). */
  async kick(actorId: string, scopeId: string, userId: string): Promise<{ left: number }> {
    await this.members.requireActOn(actorId, scopeId, userId, Permission.KickMembers);
    return this.members.removeMembership(actorId, scopeId, userId, 'kicked', 'moderation.kick');
  }

  /**
   * `moderation.ban`: bans a user (member or not) from the scope and below, removes their
   * memberships there, and with `purgeSeconds` soft-deletes their messages of that window
   * in the scope's subtree. Idempotent (a second ban updates the reason).
   * Returns `{ ban, left, purged }`. @throws NotFound, Forbidden, Invalid.
   */
  async ban(actorId: string, input: { scopeId: string; userId: string; reason?: string | undefined; purgeSeconds?: number | undefined }): Promise<{ ban: Ban; left: number; purged: number }> {
    await this.members.requireActOn(actorId, input.scopeId, input.userId, Permission.BanMembers, { needMember: false });
    let ban!: Ban;
    let purged = 0;
    let purgedEvents: ScopeEvent[] = [];
    const { left } = await this.members.removeMembership(actorId, input.scopeId, input.userId, 'banned', 'moderation.ban', async (tx) => {
      const [row] = await tx
        .insert(bans)
        .values({ scopeId: input.scopeId, userId: input.userId, reason: input.reason ?? '', bannedBy: actorId })
        .onConflictDoUpdate({ target: [bans.scopeId, bans.userId], set: { reason: input.reason ?? '' } })
        .returning();
      ban = row!;
      if (input.purgeSeconds) {
        purgedEvents = await this.messages.purge(tx, actorId, input.userId, input.scopeId, input.purgeSeconds);
        purged = purgedEvents.filter((e) => e.type === 'message.deleted').length;
      }
    });
    // Open clients drop the purged messages live.
    for (const ev of purgedEvents) await this.hub.publish(ev);
    await this.access.notify(input.scopeId, [input.userId]);
    return { ban, left, purged };
  }

  /** `moderation.unban`: lifts a ban: `{ unbanned: true }`. Needs BanMembers. @throws NotFound (no ban), Forbidden. */
  async unban(actorId: string, scopeId: string, userId: string): Promise<{ unbanned: true }> {
    await this.access.require(actorId, scopeId, Permission.BanMembers);
    const rows = await asActor(this.db, actorId, 'moderation.unban', (tx) =>
      tx.delete(bans).where(and(eq(bans.scopeId, scopeId), eq(bans.userId, userId))).returning(),
    );
    if (rows.length === 0) throw notFound(`user ${userId} is not banned here`);
    return { unbanned: true };
  }

  /** `moderation.listBans`: the bans on a scope (at most 100, newest first). Needs BanMembers. */
  async listBans(actorId: string, scopeId: string): Promise<Ban[]> {
    await this.access.require(actorId, scopeId, Permission.BanMembers);
    return this.db.select().from(bans).where(eq(bans.scopeId, scopeId)).orderBy(sql`${bans.createdAt} desc`).limit(limits.pageMax);
  }

  /**
   * `moderation.timeout`: until `until` the member keeps only View and ReadHistory in the
   * scope and below (null lifts it). At most 28 days ahead.
   * Returns `{ userId, timedOutUntil }`. @throws NotFound, Forbidden, Invalid.
   */
  async timeout(actorId: string, input: { scopeId: string; userId: string; until: Date | null }): Promise<{ userId: string; timedOutUntil: Date | null }> {
    if (input.until) {
      const ms = input.until.getTime() - Date.now();
      if (ms <= 0) throw invalid('until must be in the future (or null to lift the timeout)');
      if (ms > limits.timeoutMaxMs) throw invalid(`a timeout lasts at most ${limits.timeoutMaxMs / 86_400_000} days`);
    }
    await this.members.requireActOn(actorId, input.scopeId, input.userId, Permission.TimeoutMembers);
    await this.members.setTimeout(actorId, input.scopeId, input.userId, input.until);
    return { userId: input.userId, timedOutUntil: input.until };
  }
}
