import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgErrorCode, pgErrorMessage } from '../db/client.js';
import { memberships, scopes } from '../db/schema/index.js';
import { forbidden, invalid, notFound } from '../errors.js';
import type { Scope, ScopeKind, Visibility } from './types.js';

type ScopeRow = typeof scopes.$inferSelect;

/** Maps a row to the client shape (no drizzle type reaches the SDK). */
export function toScope(r: ScopeRow): Scope {
  return {
    id: r.id,
    kind: r.kind,
    parentId: r.parentId,
    path: r.path,
    depth: r.depth,
    name: r.name,
    description: r.description,
    visibility: r.visibility,
    createdAt: r.createdAt,
    lastSeq: r.lastSeq,
    messageCount: r.messageCount,
    lastMessageAt: r.lastMessageAt,
  };
}

/** The scope hierarchy. Nesting rules are enforced by the path trigger; this maps its refusals. */
export class ScopeService {
  constructor(private readonly db: Db) {}

  /**
   * Creates a scope; its creator becomes its owner and member.
   * A community has no parent; a group or room needs a parent community or group the
   * creator is a member of.
   * @throws NotFound when the parent does not exist; Forbidden when the creator is not a
   *   member of the parent; Invalid for wrong nesting or depth (the trigger's message).
   */
  async create(
    userId: string,
    input: { kind: Exclude<ScopeKind, 'dm'>; parentId?: string | undefined; name: string; visibility?: Visibility | undefined },
  ): Promise<Scope> {
    if (input.kind === 'community' && input.parentId) throw invalid('a community cannot have a parent; omit parentId');
    if (input.kind !== 'community' && !input.parentId) throw invalid(`a ${input.kind} needs a parentId (a community or group)`);
    if (input.parentId) await this.requireMember(input.parentId, userId);
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(scopes)
          .values({
            kind: input.kind,
            parentId: input.parentId ?? null,
            name: input.name,
            visibility: input.visibility ?? 'public',
            createdBy: userId,
          })
          .returning();
        await tx.insert(memberships).values({ scopeId: row!.id, userId, isOwner: true });
        return toScope(row!);
      });
    } catch (err) {
      throw mapScopeError(err);
    }
  }

  /**
   * Returns a live (not deleted) scope.
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
   * The membership check of the spine: resolves the scope when `userId` is a member.
   * @throws NotFound for an unknown scope; Forbidden for a non-member.
   */
  async requireMember(scopeId: string, userId: string): Promise<Scope> {
    const scope = await this.get(scopeId);
    if (!(await this.isMember(scopeId, userId))) {
      throw forbidden(`you are not a member of this ${scope.kind}; join it first`);
    }
    return scope;
  }
}

/** Turns a trigger's refusal into a domain error with its message; rethrows anything else. */
export function mapScopeError(err: unknown): unknown {
  const code = pgErrorCode(err);
  if (code === '23514') return invalid(pgErrorMessage(err));
  if (code === '23503') return notFound(pgErrorMessage(err));
  return err;
}
