import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { limits } from '../config.js';
import type { Db } from '../db/client.js';
import { scopes } from '../db/schema/index.js';
import { AppError, forbidden, notFound } from '../errors.js';
import type { ScopeHub } from '../realtime/hub.js';
import type { Cache } from '../infra/cache.js';
import { rowsOf } from '../audit/actor.js';
import { toScope } from '../scopes/row.js';
import type { Scope } from '../scopes/types.js';
import {
  computePermissions,
  explain as explainFlag,
  type ComputeInput,
  type Explanation,
  type PathLevel,
} from './compute.js';
import { ALL_PERMISSIONS, Permission, parsePermissions, toNames, type PermissionName } from './flags.js';
import { LocalCache } from '../infra/local-cache.js';

/**
 * What every member of a direct conversation may do there. DMs have no roles and no
 * owners; this is their member grant (our choice, like Discord DMs: talk, share,
 * react, pin, polls; no moderation).
 */
export const DM_MEMBER_PERMISSIONS: bigint =
  Permission.View |
  Permission.ReadHistory |
  Permission.SendMessages |
  Permission.AttachFiles |
  Permission.AddReactions |
  Permission.PinMessages |
  Permission.CreatePolls |
  Permission.CreateEvents |
  Permission.VoteInPolls;

/**
 * Flags an archived scope (or one under an archived ancestor) loses: everything that
 * adds content. Governance flags stay, so an archive can be undone.
 */
export const ARCHIVE_MASKED: bigint =
  Permission.SendMessages |
  Permission.AttachFiles |
  Permission.AddReactions |
  Permission.MentionEveryone |
  Permission.PinMessages |
  Permission.CreatePolls |
  Permission.CreateEvents |
  Permission.VoteInPolls;

/** The caller's standing in one scope, as the one permission helper resolves it. */
export interface Access {
  scope: Scope;
  /** The community (root) id of the scope (the scope's own id for a community or dm). */
  communityId: string;
  /** Effective flags (archive mask applied). */
  permissions: bigint;
  /** Owner of the scope or an ancestor (false when banned). */
  isOwner: boolean;
  /** For an owner, the depth of the highest scope of the path they own (0: the community); else null. */
  ownerDepth: number | null;
  isMember: boolean;
  /** Banned from the scope or an ancestor. */
  banned: boolean;
  /** Highest role position held on the path; -1 when none. */
  highestRolePosition: number;
  /** Timed out until this time (null when not timed out). */
  timedOutUntil: Date | null;
  /**
   * May the user know the scope exists? True with View; or, not banned, when the scope and
   * every ancestor below the deepest one the user is a member of are public (a preview of
   * what one could join: a public community, a public room of one's group). Private and
   * secret scopes are invisible to non-members (issue 3: their denial reads as NOT_FOUND).
   */
  visible: boolean;
  /** The scope or an ancestor is archived (ARCHIVE_MASKED is off `permissions`). */
  archived: boolean;
}

/**
 * What `requireStamped` answered from: the community (root) of the scope and its
 * `perm_version` then. A write holding it must not happen once the version has moved.
 */
export interface AccessStamp {
  rootId: string;
  rootVersion: number;
}

/** How long a remembered probe serves `requireStamped` (ms); each write re-checks it anyway. */
const PROBE_MEMORY_MS = 60_000;

/** What `effective` returns to clients. */
export interface EffectiveView {
  scopeId: string;
  userId: string;
  permissions: bigint;
  names: PermissionName[];
  isOwner: boolean;
  isMember: boolean;
  highestRolePosition: number;
  timedOutUntil: Date | null;
}

interface ScopeProbe {
  row: typeof scopes.$inferSelect;
  rootId: string;
  rootVersion: number;
  archived: boolean;
}

/** A timeout ends by the clock, not by a write: never cache past its end (ms). */
function cacheTtl(c: CachedPerms): number {
  return c.t && c.t > Date.now() ? Math.min(limits.permCacheTtlMs, c.t - Date.now()) : limits.permCacheTtlMs;
}

/**
 * The probe of every permission check, prepared once per service (a named statement on
 * PostgreSQL, parsed and planned once per connection; drizzle no longer builds it per call).
 */
function prepareProbe(db: Db) {
  return db
    .select({
      row: scopes,
      // Written with the table name: drizzle leaves columns unqualified in a one-table select.
      rootId: sql<string>`coalesce(scopes.path[1], scopes.id)`,
      rootVersion: sql<string>`(select r.perm_version from scopes r where r.id = coalesce(scopes.path[1], scopes.id))`,
      archived: sql<boolean>`(scopes.archived_at is not null or exists (select 1 from scopes a where a.id = any (scopes.path) and a.archived_at is not null))`,
    })
    .from(scopes)
    .where(and(eq(scopes.id, sql.placeholder('scopeId')), isNull(scopes.deletedAt)))
    .limit(1)
    .prepare('guildhall_permissions_probe');
}

interface CachedPerms {
  p: string;
  o: boolean;
  m: boolean;
  b: boolean;
  h: number;
  t: number | null;
  /** Preview-visible without View (see `Access.visible`). */
  v: boolean;
  /** Access.ownerDepth (absent: not an owner). */
  od?: number;
}

interface LevelRow {
  id: string;
  kind: string;
  visibility: string;
  member: { grant: string; isOwner: boolean; timedOutUntil: string | null } | null;
  roles: { id: string; position: number; permissions: string; isEveryone: boolean }[];
  overwrites: { targetType: 'role' | 'member'; targetId: string; allow: string; deny: string }[];
  banned: boolean;
  role_ids: string[];
}

/**
 * The one permission helper. Every procedure of the project checks access through
 * `require` (or `see` / `requireOwner`), so this is the one place to audit.
 *
 * Effective permissions come from `computePermissions` (compute.ts) over one query of
 * the scope's path, cached under `perm:<community>:<perm_version>:<scope>:<user>`. The
 * triggers in drizzle/0006_governance_triggers.sql bump the community's `perm_version`
 * on every change to roles, assignments, overwrites, ownership, memberships, bans,
 * timeouts and moves, so a cached answer is never stale: the next call, on any
 * instance, reads the new version and misses.
 */
export class AccessService {
  constructor(
    private readonly db: Db,
    private readonly cache: Cache,
    private readonly hub: ScopeHub,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves the standing of `userId` in `scopeId`.
   * @throws NotFound when the scope does not exist or is deleted.
   */
  async resolve(userId: string, scopeId: string): Promise<Access> {
    const probe = await this.probe(scopeId);
    if (!probe) throw notFound(`scope ${scopeId} not found`);
    return this.resolveWith(probe, userId, scopeId);
  }

  /**
   * `require` for a write that re-checks the answer itself, in its own statement (the plain
   * send, src/messages/send-sql.ts): the scope's probe comes from this instance's memory
   * when it holds one, so an allowed call costs no round trip. The returned stamp names the
   * community and the `perm_version` the answer was computed at; the write must refuse to
   * happen when the community's version is no longer that one (every change of access
   * bumps it, drizzle/0006), and then call this again with `fresh`. A refusal is never
   * given from memory: it is checked again against the database first.
   * @throws as `require` (NotFound, Forbidden), always from a fresh probe.
   */
  async requireStamped(userId: string, scopeId: string, flags: bigint, fresh = false): Promise<AccessStamp> {
    const remembered = fresh ? null : await this.rememberedStamp(userId, scopeId, flags);
    if (remembered) return remembered;
    const probe = await this.probe(scopeId);
    if (!probe) throw notFound(`scope ${scopeId} not found`);
    this.demand(await this.resolveWith(probe, userId, scopeId), scopeId, flags);
    return { rootId: probe.rootId, rootVersion: probe.rootVersion };
  }

  /**
   * The allowing half of `requireStamped`, from this instance's memory only: the stamp
   * when the remembered probe of `scopeId` (at most PROBE_MEMORY_MS old) and the cached
   * permissions of `userId` at its perm_version grant every bit of `flags`; null when
   * nothing is remembered or the remembered answer refuses (refusals are only given
   * from the database, by `require`). The caller's statement must confirm the stamp.
   */
  async rememberedStamp(userId: string, scopeId: string, flags: bigint): Promise<AccessStamp | null> {
    const remembered = this.probes.get(scopeId);
    if (!remembered) return null;
    const a = await this.resolveWith(remembered, userId, scopeId);
    return a.visible && (a.permissions & flags) === flags ? { rootId: remembered.rootId, rootVersion: remembered.rootVersion } : null;
  }

  private async resolveWith(probe: ScopeProbe, userId: string, scopeId: string): Promise<Access> {
    const key = `perm:${probe.rootId}:${probe.rootVersion}:${scopeId}:${userId}`;
    let cached = this.local.get(key);
    if (!cached) {
      // Checks of one key asked while it is being loaded share that load (a user's sockets
      // subscribing at once): the key holds the perm_version their probes read, and every
      // change of access bumps it, so the answer is the one each would have loaded.
      let loading = this.loading.get(key);
      if (!loading) {
        loading = this.load(key, userId, scopeId).finally(() => this.loading.delete(key));
        this.loading.set(key, loading);
      }
      cached = await loading;
    }
    let permissions = BigInt(cached.p);
    if (probe.archived) permissions &= ~ARCHIVE_MASKED;
    const timedOutUntil = cached.t && cached.t > Date.now() ? new Date(cached.t) : null;
    return {
      scope: toScope(probe.row),
      communityId: probe.rootId,
      permissions,
      isOwner: cached.o,
      ownerDepth: cached.o ? (cached.od ?? 0) : null,
      isMember: cached.m,
      banned: cached.b,
      highestRolePosition: cached.h,
      timedOutUntil,
      visible: (permissions & Permission.View) !== 0n || cached.v,
      archived: probe.archived,
    };
  }

  /**
   * The permissions of `key` (= userId in scopeId) from the Redis cache, else computed from
   * the database and cached there and in memory.
   */
  private async load(key: string, userId: string, scopeId: string): Promise<CachedPerms> {
    try {
      const raw = await this.cache.get(key);
      if (raw) {
        const hit = JSON.parse(raw) as CachedPerms;
        this.local.set(key, hit, cacheTtl(hit));
        return hit;
      }
    } catch (err) {
      this.log.warn({ err }, 'permission cache read failed; computing');
    }
    const { input, preview } = await this.loadPath(userId, scopeId, new Date());
    const eff = computePermissions(input);
    const cached: CachedPerms = {
      p: eff.permissions.toString(),
      o: eff.isOwner,
      m: input.isMember,
      b: input.banned === true,
      h: eff.highestRolePosition,
      t: input.timedOutUntil ? input.timedOutUntil.getTime() : null,
      v: preview && input.banned !== true,
    };
    const od = input.path.findIndex((level) => level.ownerIds.includes(userId));
    if (eff.isOwner && od >= 0) cached.od = od;
    // A timeout ends by the clock, not by a write: never cache past its end.
    const ttl = cacheTtl(cached);
    this.local.set(key, cached, ttl);
    await this.cache.set(key, JSON.stringify(cached), ttl).catch((err) => this.log.warn({ err }, 'permission cache write failed'));
    return cached;
  }

  /**
   * The permission check of every procedure: resolves the scope and the caller's
   * standing, and demands every bit of `flags` (0n: visibility only).
   * @throws NotFound when the scope does not exist or the caller may not know it exists
   *   (the same answer, so a hidden scope cannot be probed); Forbidden when the caller can
   *   see the scope but lacks a flag, with the reason (not a member, archived, timed out, the flag).
   */
  async require(userId: string, scopeId: string, flags: bigint): Promise<Access> {
    return this.demand(await this.resolve(userId, scopeId), scopeId, flags);
  }

  /** The decision of `require` on a resolved standing. */
  private demand(a: Access, scopeId: string, flags: bigint): Access {
    if (!a.visible) throw notFound(`scope ${scopeId} not found`);
    if ((a.permissions & flags) === flags) return a;
    const what = a.scope.kind === 'dm' ? 'conversation' : a.scope.kind;
    if (!a.isMember && !a.isOwner) throw forbidden(`you are not a member of this ${what}; join it first`);
    const missing = toNames(flags & ~a.permissions);
    if (a.archived && (flags & ~a.permissions & ARCHIVE_MASKED) !== 0n) throw forbidden(`this ${what} is archived (or under an archived scope): it is read-only until it is unarchived`);
    if (a.timedOutUntil) throw forbidden(`you are timed out here until ${a.timedOutUntil.toISOString()}`);
    throw forbidden(`you need the ${missing.join(', ')} permission${missing.length > 1 ? 's' : ''} in this ${what}`);
  }

  /** `require(userId, scopeId, 0n)`: the scope when the caller may know it exists. @throws NotFound. */
  async see(userId: string, scopeId: string): Promise<Access> {
    return this.require(userId, scopeId, 0n);
  }

  /**
   * For owner-only actions (OWNER_ONLY_ACTIONS in flags.ts): the caller must own the
   * scope or an ancestor. @throws NotFound (invisible), Forbidden (not an owner).
   */
  async requireOwner(userId: string, scopeId: string, action: string): Promise<Access> {
    const a = await this.see(userId, scopeId);
    if (!a.isOwner) throw forbidden(`only an owner may ${action}`);
    return a;
  }

  /** `permissions.effective`: the flags of `userId` in `scopeId`, with their names. */
  async effective(userId: string, scopeId: string): Promise<EffectiveView> {
    const a = await this.resolve(userId, scopeId);
    return {
      scopeId,
      userId,
      permissions: a.permissions,
      names: toNames(a.permissions),
      isOwner: a.isOwner,
      isMember: a.isMember,
      highestRolePosition: a.highestRolePosition,
      timedOutUntil: a.timedOutUntil,
    };
  }

  /**
   * `permissions.explain`: which rule decided `flag` for `userId` in `scopeId`
   * (compute.ts `explain`), plus `archived` when an archive masks it.
   */
  async explain(userId: string, scopeId: string, flag: PermissionName): Promise<Explanation & { archived: boolean }> {
    const probe = await this.probe(scopeId);
    if (!probe) throw notFound(`scope ${scopeId} not found`);
    const result = explainFlag((await this.loadPath(userId, scopeId, new Date())).input, flag);
    const masked = probe.archived && (Permission[flag] & ARCHIVE_MASKED) !== 0n;
    return { ...result, allowed: result.allowed && !masked, archived: masked };
  }

  /**
   * True when `userId` holds every bit of `flags` in `scopeId` (false for a missing or
   * invisible scope). For re-checks such as a subscription's `stillAllowed`.
   */
  async allows(userId: string, scopeId: string, flags: bigint): Promise<boolean> {
    try {
      await this.require(userId, scopeId, flags);
      return true;
    } catch (err) {
      if (err instanceof AppError && (err.code === 'NotFound' || err.code === 'Forbidden')) return false;
      throw err;
    }
  }

  /**
   * Announces, after commit, that access under `scopeId` changed, for `userIds` (kick,
   * ban, leave, role assignment, timeout) or for everyone (role edits, overwrites, moves,
   * visibility, archive, delete: pass no userIds). Goes through the hub's access notice
   * (src/realtime/hub.ts `accessChanged`) to every instance, where each open conversation
   * subscription under the scope re-checks and ends with FORBIDDEN when access is gone.
   * Never throws.
   */
  async notify(scopeId: string, userIds?: readonly string[]): Promise<void> {
    const changes = userIds ? userIds.map((userId) => ({ scopeId, userId })) : [{ scopeId }];
    await Promise.all(
      changes.map((c) => this.hub.accessChanged(c).catch((err: unknown) => this.log.warn({ err, ...c }, 'access notice lost'))),
    );
  }

  // ------------------------------------------------------------ loading

  /** The live scope row, its community's id and perm_version, and archive/public facts of its path. */
  /**
   * The probe of `scopeId`. Checks of one scope asked in the same turn of the event loop
   * (a burst of sockets subscribing to one room, sends into one room) share one query,
   * issued after the last of them (setImmediate), so every caller still reads the
   * database after its own call: a change committed before a call is always seen.
   */
  private probe(scopeId: string): Promise<ScopeProbe | null> {
    let batch = this.pendingProbes;
    if (!batch) {
      batch = this.pendingProbes = new Map();
      setImmediate((self: AccessService) => self.runProbes(), this);
    }
    let p = batch.get(scopeId);
    if (!p) {
      let resolve!: (r: ScopeProbe | null) => void;
      let reject!: (err: unknown) => void;
      p = { promise: new Promise((res, rej) => ((resolve = res), (reject = rej))), resolve, reject };
      batch.set(scopeId, p);
    }
    return p.promise;
  }

  private runProbes() {
    const batch = this.pendingProbes!;
    this.pendingProbes = null;
    this.probeQuery ??= prepareProbe(this.db);
    for (const [scopeId, p] of batch) {
      this.probeQuery.execute({ scopeId }).then(([r]) => {
        if (!r) {
          this.probes.delete(scopeId);
          return p.resolve(null);
        }
        const probe = { row: r.row, rootId: r.rootId, rootVersion: Number(r.rootVersion), archived: r.archived };
        this.probes.set(scopeId, probe, PROBE_MEMORY_MS);
        p.resolve(probe);
      }, p.reject);
    }
  }

  private pendingProbes: Map<string, { promise: Promise<ScopeProbe | null>; resolve: (r: ScopeProbe | null) => void; reject: (err: unknown) => void }> | null = null;

  /**
   * The last probe of each scope read on this instance, for `requireStamped` only: a write
   * that uses one checks its perm_version in its own statement, so a stale one is caught.
   */
  private readonly probes = new LocalCache<ScopeProbe>(10_000);

  private probeQuery: ReturnType<typeof prepareProbe> | undefined;

  /**
   * An in-process copy of the Redis permission cache, under the same keys. A key holds the
   * community's perm_version, which the probe reads on every call, so a local answer is
   * never stale either; it saves the Redis read and the parse on a busy sender's path.
   */
  private readonly local = new LocalCache<CachedPerms>(10_000);

  /** Loads in flight, by the same keys as `local` (each removed when it settles). */
  private readonly loading = new Map<string, Promise<CachedPerms>>();

  /**
   * The inputs of computePermissions for (user, scope): one query over the path, root
   * first; plus `preview`, whether the public part of the path reaches down from the
   * deepest level the user is a member of (or from the root).
   */
  async loadPath(userId: string, scopeId: string, now: Date): Promise<{ input: ComputeInput; preview: boolean }> {
    const rows = await rowsOf<LevelRow>(
      this.db,
      sql`
      with lv as (
        select u.id, u.ord, s.kind, s.visibility
          from scopes t
         cross join lateral unnest(t.path || t.id) with ordinality as u(id, ord)
          join scopes s on s.id = u.id
         where t.id = ${scopeId}
      )
      select lv.id, lv.kind, lv.visibility,
        (select json_build_object('grant', m.granted_permissions::text, 'isOwner', m.is_owner, 'timedOutUntil', m.timed_out_until)
           from memberships m where m.scope_id = lv.id and m.user_id = ${userId}) as member,
        coalesce((select json_agg(json_build_object('id', r.id, 'position', r.position, 'permissions', r.permissions::text,
                                                     'isEveryone', r.kind = 'everyone'))
                    from roles r where r.scope_id = lv.id), '[]'::json) as roles,
        coalesce((select json_agg(json_build_object('targetType', o.target_type, 'targetId', o.target_id,
                                                     'allow', o.allow::text, 'deny', o.deny::text))
                    from permission_overwrites o
                   where o.scope_id = lv.id and (o.target_type = 'role' or o.target_id = ${userId})), '[]'::json) as overwrites,
        exists (select 1 from bans b where b.scope_id = lv.id and b.user_id = ${userId}) as banned,
        coalesce((select json_agg(ra.role_id) from role_assignments ra join roles r on r.id = ra.role_id
                   where r.scope_id = lv.id and ra.user_id = ${userId}), '[]'::json) as role_ids
      from lv order by lv.ord`,
    );
    const userRoleIds = new Set<string>();
    let banned = false;
    let timedOutUntil: Date | null = null;
    const path: PathLevel[] = rows.map((r) => {
      for (const id of r.role_ids) userRoleIds.add(id);
      banned ||= r.banned;
      const t = r.member?.timedOutUntil ? new Date(r.member.timedOutUntil) : null;
      if (t && (!timedOutUntil || t > timedOutUntil)) timedOutUntil = t;
      let memberGrant: bigint | undefined;
      if (r.member) {
        const g = parsePermissions(r.member.grant);
        if (r.kind === 'dm') memberGrant = DM_MEMBER_PERMISSIONS | g;
        else if (g !== 0n) memberGrant = g;
      }
      return {
        scopeId: r.id,
        ownerIds: r.member?.isOwner ? [userId] : [],
        roles: r.roles.map((role) => ({
          id: role.id,
          position: role.position,
          permissions: parsePermissions(role.permissions) & ALL_PERMISSIONS,
          isEveryone: role.isEveryone,
        })),
        overwrites: r.overwrites.map((o) => ({
          targetType: o.targetType,
          targetId: o.targetId,
          allow: parsePermissions(o.allow),
          deny: parsePermissions(o.deny),
        })),
        ...(memberGrant !== undefined ? { memberGrant } : {}),
      };
    });
    const last = rows[rows.length - 1];
    let deepestMember = -1;
    rows.forEach((r, i) => {
      if (r.member) deepestMember = i;
    });
    const preview = rows.slice(deepestMember + 1).every((r) => r.visibility === 'public' && r.kind !== 'dm');
    return {
      input: { userId, path, userRoleIds, isMember: !!last?.member, banned, timedOutUntil, now },
      preview,
    };
  }
}
