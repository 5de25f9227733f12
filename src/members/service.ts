import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgErrorCode } from '../db/client.js';
import { memberships } from '../db/schema/index.js';
import { forbidden } from '../errors.js';
import type { ScopeService } from '../scopes/service.js';

/** A membership as clients see it. */
export interface Membership {
  scopeId: string;
  userId: string;
  isOwner: boolean;
  joinedAt: Date;
}

/** Membership of scopes. The parent rule and the cascade on leave are triggers. */
export class MemberService {
  constructor(
    private readonly db: Db,
    private readonly scopes: ScopeService,
  ) {}

  /**
   * Joins a public scope. Idempotent: joining again returns the existing membership.
   * @throws NotFound for an unknown scope; Forbidden for a private or secret scope, or
   *   when the user is not a member of its parent.
   */
  async join(scopeId: string, userId: string): Promise<Membership> {
    const scope = await this.scopes.get(scopeId);
    const existing = await this.find(scopeId, userId);
    if (existing) return existing;
    if (scope.visibility !== 'public') throw forbidden(`this ${scope.kind} is ${scope.visibility}; it needs an invite`);
    if (scope.kind === 'dm') throw forbidden('direct conversations cannot be joined');
    try {
      const [row] = await this.db.insert(memberships).values({ scopeId, userId }).onConflictDoNothing().returning();
      return row ?? (await this.find(scopeId, userId))!;
    } catch (err) {
      if (pgErrorCode(err) === '23514') throw forbidden('join the parent scope first');
      throw err;
    }
  }

  private async find(scopeId: string, userId: string): Promise<Membership | null> {
    const [row] = await this.db
      .select()
      .from(memberships)
      .where(and(eq(memberships.scopeId, scopeId), eq(memberships.userId, userId)))
      .limit(1);
    return row ?? null;
  }
}
