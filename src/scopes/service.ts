import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgErrorCode, pgErrorMessage } from '../db/client.js';
import { memberships, roles, scopes } from '../db/schema/index.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { limits } from '../config.js';
import { asActor } from '../audit/actor.js';
import { DEFAULT_ADMIN_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import type { HistoryVisibility, Scope, ScopeKind, ScopeSettings, TreeNode, Visibility } from './types.js';
import { toScope, type ScopeRow } from './row.js';

/**
 * The scope hierarchy. Nesting, depth and children-count rules are triggers
 * (drizzle/0001_scope_path_trigger.sql, drizzle/0006_governance_triggers.sql); this
 * checks permissions through the AccessService and maps the triggers' refusals.
 */
export class ScopeService {
  constructor(
    private readonly db: Db,
    private readonly acc: AccessService,
  ) {}

  /**
   * Creates a scope. A community (no parent) can be made by anyone; its creator becomes
   * owner and member, and it gets the built-in roles everyone (position 0,
   * DEFAULT_EVERYONE_PERMISSIONS) and admin (position `limits.adminRolePosition`,
   * DEFAULT_ADMIN_PERMISSIONS). A group or room needs CreateChildScopes in its parent
   * (a community or group); the creator becomes a member, and the owner of a group
   * (rooms have no owners of their own: their parents' owners rule them).
   * @throws NotFound for an unknown or invisible parent; Forbidden without CreateChildScopes;
   *   Invalid for wrong nesting, depth or too many children (the trigger's message).
   */
  async create(
    userId: string,
    input: {
      kind: Exclude<ScopeKind, 'dm'>;
      parentId?: string | undefined;
      name: string;
      description?: string | undefined;
      visibility?: Visibility | undefined;
      historyVisibility?: HistoryVisibility | undefined;
    },
  ): Promise<Scope> {
    if (input.kind === 'community' && input.parentId) throw invalid('a community cannot have a parent; omit parentId');
    if (input.kind !== 'community' && !input.parentId) throw invalid(`a ${input.kind} needs a parentId (a community or group)`);
    if (input.parentId) await this.acc.require(userId, input.parentId, Permission.CreateChildScopes);
    try {
      return await asActor(this.db, userId, 'scopes.create', async (tx) => {
        const [row] = await tx
          .insert(scopes)
          .values({
            kind: input.kind,
            parentId: input.parentId ?? null,
            name: input.name,
            description: input.description ?? '',
            visibility: input.visibility ?? 'public',
            historyVisibility: input.historyVisibility ?? 'shared',
            createdBy: userId,
          })
          .returning();
        await tx.insert(memberships).values({ scopeId: row!.id, userId, isOwner: input.kind !== 'room' });
        if (input.kind === 'community') {
          await tx.insert(roles).values([
            { scopeId: row!.id, kind: 'everyone', name: 'everyone', position: 0, permissions: DEFAULT_EVERYONE_PERMISSIONS },
            { scopeId: row!.id, kind: 'admin', name: 'admin', position: limits.adminRolePosition, permissions: DEFAULT_ADMIN_PERMISSIONS },
          ]);
        }
        return toScope(row!);
      });
    } catch (err) {
      throw mapScopeError(err);
    }
  }

  /**
   * Returns a live (not deleted) scope, without a permission check (for other services).
   * @throws NotFound when there is none with this id.
   */
  async get(scopeId: string): Promise<Scope> {
    const [row] = await this.db
      .select()
      .from(scopes)
      .where(and(eq(scopes.id, scopeId), isNull(scopes.deletedAt)))
      .limit(1);
    if (!row) throw notFound(`scope ${scopeId} not found`);
    return toScope(row);
  }

  /** `scopes.get`: a scope the caller may see (a member with View, or a preview of a public one). @throws NotFound. */
  async view(userId: string, scopeId: string): Promise<Scope> {
    return (await this.acc.see(userId, scopeId)).scope;
  }

  /** True when `userId` is a member of `scopeId`. */
  async isMember(scopeId: string, userId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ u: memberships.userId })
      .from(memberships)
      .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)))
      .limit(1);
    return !!row;
  }

  /**
   * The membership check of the spine, kept for code not yet on the permission helper.
   * Prefer `AccessService.require`.
   * @throws NotFound for an unknown scope; Forbidden for a non-member.
   */
  async requireMember(scopeId: string, userId: string): Promise<Scope> {
    const scope = await this.get(scopeId);
    if (!(await this.isMember(scopeId, userId))) {
      throw forbidden(`you are not a member of this ${scope.kind}; join it first`);
    }
    return scope;
  }

  /**
   * `scopes.update`: name, description, visibility, settings (omitted fields stay).
   * Needs ManageScope. @throws NotFound, Forbidden, Invalid (a dm's visibility).
   */
  async update(
    userId: string,
    input: {
      scopeId: string;
      name?: string | undefined;
      description?: string | undefined;
      visibility?: Visibility | undefined;
      historyVisibility?: HistoryVisibility | undefined;
      settings?: ScopeSettings | undefined;
    },
  ): Promise<Scope> {
    const a = await this.acc.require(userId, input.scopeId, Permission.ManageScope);
    if (a.scope.kind === 'dm' && input.visibility) throw invalid('a direct conversation has no visibility to change');
    const set: Partial<ScopeRow> = {};
    if (input.name !== undefined) set.name = input.name;
    if (input.description !== undefined) set.description = input.description;
    if (input.visibility !== undefined) set.visibility = input.visibility;
    if (input.settings !== undefined) set.settings = input.settings;
    if (input.historyVisibility !== undefined) set.historyVisibility = input.historyVisibility;
    if (Object.keys(set).length === 0) return a.scope;
    const row = await asActor(this.db, userId, 'scopes.update', async (tx) => {
      const [r] = await tx.update(scopes).set(set).where(eq(scopes.id, input.scopeId)).returning();
      return r!;
    }).catch((err) => {
      throw mapScopeError(err);
    });
    if (input.visibility !== undefined && input.visibility !== a.scope.visibility) await this.acc.notify(input.scopeId);
    // Open feeds re-check: each ends (to be reopened under the new rule) when what its user may see changed.
    else if (input.historyVisibility !== undefined && input.historyVisibility !== a.scope.historyVisibility) await this.acc.notify(input.scopeId);
    return toScope(row);
  }

  /**
   * `scopes.move`: puts a group or room under a new parent in the same community; the
   * trigger rewrites the path of the whole subtree. Needs ManageScope in the scope and
   * CreateChildScopes in the new parent.
   * @throws NotFound, Forbidden, Invalid (a cycle, another community, too deep, wrong kind).
   */
  async move(userId: string, input: { scopeId: string; parentId: string }): Promise<Scope> {
    const a = await this.acc.require(userId, input.scopeId, Permission.ManageScope);
    if (a.scope.kind === 'community' || a.scope.kind === 'dm') throw invalid(`a ${a.scope.kind} has no parent and cannot move`);
    await this.acc.require(userId, input.parentId, Permission.CreateChildScopes);
    if (a.scope.parentId === input.parentId) return a.scope;
    const row = await asActor(this.db, userId, 'scopes.move', async (tx) => {
      const [r] = await tx.update(scopes).set({ parentId: input.parentId }).where(eq(scopes.id, input.scopeId)).returning();
      return r!;
    }).catch((err) => {
      throw mapScopeError(err);
    });
    await this.acc.notify(input.scopeId);
    return toScope(row);
  }

  /**
   * `scopes.archive`: archives (or with `archived: false` restores) a scope; its subtree
   * becomes read-only (the AccessService masks the flags that add content). Needs ManageScope.
   */
  async archive(userId: string, input: { scopeId: string; archived: boolean }): Promise<Scope> {
    await this.acc.require(userId, input.scopeId, Permission.ManageScope);
    const row = await asActor(this.db, userId, input.archived ? 'scopes.archive' : 'scopes.unarchive', async (tx) => {
      const [r] = await tx
        .update(scopes)
        .set({ archivedAt: input.archived ? sql`coalesce(${scopes.archivedAt}, now())` : null })
        .where(eq(scopes.id, input.scopeId))
        .returning();
      return r!;
    });
    await this.acc.notify(input.scopeId);
    return toScope(row);
  }

  /**
   * `scopes.delete`: soft-deletes a scope and its whole subtree (they read as NOT_FOUND
   * afterwards). A community or group only by an owner (OWNER_ONLY_ACTIONS deleteScope);
   * a room with ManageScope. Returns `{ deleted }`, the number of scopes deleted.
   */
  async remove(userId: string, scopeId: string): Promise<{ deleted: number }> {
    const a = await this.acc.see(userId, scopeId);
    if (a.scope.kind === 'room') await this.acc.require(userId, scopeId, Permission.ManageScope);
    else if (a.scope.kind === 'dm') throw forbidden('a direct conversation cannot be deleted; leave it instead');
    else await this.acc.requireOwner(userId, scopeId, `delete this ${a.scope.kind}`);
    const n = await asActor(this.db, userId, 'scopes.delete', async (tx) => {
      const rows = await tx
        .update(scopes)
        .set({ deletedAt: sql`now()` })
        .where(and(isNull(scopes.deletedAt), sql`(${scopes.id} = ${scopeId} or ${scopeId}::uuid = any (${scopes.path}))`))
        .returning({ id: scopes.id });
      return rows.length;
    });
    await this.acc.notify(scopeId);
    return { deleted: n };
  }

  /**
   * `scopes.tree`: the live subtree under `rootId` (itself included), only the scopes the
   * caller may see, parents before children, at most `limits.treeMaxNodes`.
   * Each node: `{ id, kind, parentId, depth, name, visibility, archived, isMember }`.
   * Unread counts are left for later. @throws NotFound when the root is invisible.
   */
  async tree(userId: string, rootId: string): Promise<TreeNode[]> {
    const root = await this.acc.see(userId, rootId);
    const rows = await this.db
      .select()
      .from(scopes)
      .where(and(isNull(scopes.deletedAt), sql`${rootId}::uuid = any (${scopes.path})`))
      .orderBy(asc(scopes.depth), asc(scopes.name), asc(scopes.id))
      .limit(limits.treeMaxNodes);
    const ids = rows.map((r) => r.id);
    const mine = new Set(
      ids.length === 0
        ? []
        : (
            await this.db
              .select({ id: memberships.scopeId })
              .from(memberships)
              .where(and(eq(memberships.userId, userId), inArray(memberships.scopeId, ids)))
          ).map((m) => m.id),
    );
    const visible = new Set([rootId]);
    const out: TreeNode[] = [node(root.scope, root.isMember)];
    // Parents come first (ordered by depth), so a child of a hidden scope stays hidden.
    // One depth at a time, the nodes of a depth resolved together (each answer is cached).
    for (let i = 0; i < rows.length; ) {
      const depth = rows[i]!.depth;
      const level: ScopeRow[] = [];
      for (; i < rows.length && rows[i]!.depth === depth; i++) {
        if (rows[i]!.parentId && visible.has(rows[i]!.parentId!)) level.push(rows[i]!);
      }
      const seen = await Promise.all(level.map((r) => this.acc.resolve(userId, r.id).then((a) => a.visible)));
      level.forEach((r, k) => {
        if (!seen[k]) return;
        visible.add(r.id);
        out.push(node(toScope(r), mine.has(r.id)));
      });
    }
    return out;
  }
}

function node(s: Scope, isMember: boolean): TreeNode {
  return {
    id: s.id,
    kind: s.kind,
    parentId: s.parentId,
    depth: s.depth,
    name: s.name,
    visibility: s.visibility,
    archived: s.archivedAt !== null,
    isMember,
  };
}

/** Turns a trigger's refusal into a domain error with its message; rethrows anything else. */
export function mapScopeError(err: unknown): unknown {
  const code = pgErrorCode(err);
  if (code === '23514') return invalid(pgErrorMessage(err));
  if (code === '23503') return notFound(pgErrorMessage(err));
  if (code === '23505') return conflict(pgErrorMessage(err));
  if (code === '42501') return forbidden(pgErrorMessage(err));
  return err;
}
