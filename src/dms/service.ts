import { and, desc, eq, inArray } from 'drizzle-orm';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { pgErrorCode } from '../db/client.js';
import { memberships, scopes, users } from '../db/schema/index.js';
import { invalid, notFound } from '../errors.js';
import { asActor } from '../audit/actor.js';
import type { ScopeEvent } from '../messages/events.js';
import type { MemberService } from '../members/service.js';
import type { ScopeHub } from '../realtime/hub.js';
import { toScope } from '../scopes/row.js';
import type { Scope } from '../scopes/types.js';

/** Who may open a DM with a user: members of a shared community (the default) or anyone. */
export interface DmSettings {
  allowDmsFrom: 'communities' | 'anyone';
}

/** A direct conversation and who is in it. */
export interface DirectConversation {
  scope: Scope;
  memberIds: string[];
}

/**
 * Direct conversations: scopes of kind dm, visibility secret, no parent, no roles, no
 * owners. Their members hold DM_MEMBER_PERMISSIONS (permissions/service.ts). A pair has
 * exactly one DM (`scopes.dm_key`, unique); a group DM (3..10 people) is new each time,
 * as in Discord.
 */
export class DmService {
  constructor(
    private readonly db: Db,
    private readonly members: MemberService,
    private readonly hub: ScopeHub,
  ) {}

  /**
   * `dms.open`: the caller plus `userIds`. For two people, the one DM of the pair (made on
   * first use; reopening it brings the caller back, while someone else who left stays out
   * until they reopen it themselves). For 3 to 10 people, a new group DM.
   * As in Discord, each other person must share a community with the caller, unless they
   * allow DMs from anyone (`allowDmsFrom`, see `settings`).
   * @throws Invalid (nobody else, more than 10); NotFound for an unknown user and for one
   *   who does not take DMs from the caller: the same answer, so ids cannot be probed.
   */
  async open(userId: string, others: string[]): Promise<DirectConversation> {
    const ids = [...new Set([userId, ...others])].sort();
    if (ids.length < 2) throw invalid('a direct conversation needs someone besides you');
    if (ids.length > limits.dmMaxMembers) throw invalid(`a direct conversation holds at most ${limits.dmMaxMembers} people`);
    const found = await this.db.select({ id: users.id, allowDmsFrom: users.allowDmsFrom }).from(users).where(inArray(users.id, ids));
    const shared = await this.members.sharingWith(userId, ids, 'community');
    const reachable = found.filter((u) => u.id === userId || u.allowDmsFrom === 'anyone' || shared.has(u.id));
    if (reachable.length !== ids.length) throw notFound('you cannot open a direct conversation with one of these users');
    const dmKey = ids.length === 2 ? ids.join(':') : null;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.openOnce(userId, ids, dmKey);
      } catch (err) {
        // Two first opens of one pair at once: the loser finds the winner's DM.
        if (pgErrorCode(err) === '23505' && attempt < 2) continue;
        throw err;
      }
    }
  }

  private async openOnce(userId: string, ids: string[], dmKey: string | null): Promise<DirectConversation> {
    const events: ScopeEvent[] = [];
    const scope = await asActor(this.db, userId, 'dms.open', async (tx) => {
      let row = dmKey ? (await tx.select().from(scopes).where(eq(scopes.dmKey, dmKey)).limit(1))[0] : undefined;
      const created = !row;
      if (!row) {
        [row] = await tx
          .insert(scopes)
          .values({ kind: 'dm', name: 'direct message', visibility: 'secret', createdBy: userId, dmKey })
          .returning();
      }
      // A new DM takes everyone; an existing one only brings the caller back: leaving holds
      // until the one who left reopens it (Discord: closing a DM is the user's own choice).
      for (const id of created ? ids : [userId]) {
        const r = await this.members.insertIn(tx, row!.id, id, userId);
        if (r.event) events.push(r.event);
      }
      const members = await tx.select({ id: memberships.userId }).from(memberships).where(eq(memberships.scopeId, row!.id));
      return { scope: toScope(row!), memberIds: members.map((m) => m.id).sort() };
    });
    for (const ev of events) await this.hub.publish(ev);
    return scope;
  }

  /** `dms.settings`: who may open a DM with the caller: `{ allowDmsFrom }`. */
  async settings(userId: string): Promise<DmSettings> {
    const [row] = await this.db.select({ allowDmsFrom: users.allowDmsFrom }).from(users).where(eq(users.id, userId)).limit(1);
    if (!row) throw notFound('your account no longer exists');
    return row;
  }

  /**
   * `dms.updateSettings`: `communities` (members of a shared community, the default, as
   * Discord's "allow direct messages from server members") or `anyone`.
   * Returns the settings. DMs already open stay open.
   */
  async updateSettings(userId: string, input: DmSettings): Promise<DmSettings> {
    const [row] = await this.db.update(users).set({ allowDmsFrom: input.allowDmsFrom }).where(eq(users.id, userId)).returning({ allowDmsFrom: users.allowDmsFrom });
    if (!row) throw notFound('your account no longer exists');
    return row;
  }

  /** `dms.list`: the caller's direct conversations, most recently active first (at most 100). */
  async list(userId: string): Promise<DirectConversation[]> {
    const rows = await this.db
      .select({ scope: scopes })
      .from(memberships)
      .innerJoin(scopes, eq(scopes.id, memberships.scopeId))
      .where(and(eq(memberships.userId, userId), eq(scopes.kind, 'dm')))
      .orderBy(desc(scopes.lastMessageAt), desc(scopes.createdAt))
      .limit(limits.pageMax);
    if (rows.length === 0) return [];
    const all = await this.db
      .select({ scopeId: memberships.scopeId, userId: memberships.userId })
      .from(memberships)
      .where(inArray(memberships.scopeId, rows.map((r) => r.scope.id)));
    return rows.map((r) => ({
      scope: toScope(r.scope),
      memberIds: all.filter((m) => m.scopeId === r.scope.id).map((m) => m.userId).sort(),
    }));
  }
}
