import { and, arrayContains, eq, isNull, or } from 'drizzle-orm';
import { memberships, scopes } from '../db/schema/index.js';
import type { Db } from '../db/client.js';
import type { AccessStamp } from '../permissions/service.js';

/**
 * What the messages domain asks of the permission helper: `AccessService`
 * (src/permissions/service.ts) has this shape and app.ts passes it in. Kept narrow so
 * the messages services can be built and tested with any implementation.
 */
export interface MessageAccess {
  /**
   * Demands every bit of `flags` for `userId` in `scopeId`.
   * @throws NotFound for an unknown scope; Forbidden without the flags.
   */
  require(userId: string, scopeId: string, flags: bigint): Promise<unknown>;
  /**
   * `require` that may answer from memory, with the stamp (community, perm_version) the
   * write must confirm in its own statement; `fresh` reads the database.
   * @throws NotFound, Forbidden as `require` (a refusal is always from the database).
   */
  requireStamped(userId: string, scopeId: string, flags: bigint, fresh?: boolean): Promise<AccessStamp>;
  /**
   * The stamp of an allowing answer held in this instance's memory, else null (then call
   * `require`); a statement that reads under it must confirm it.
   */
  rememberedStamp(userId: string, scopeId: string, flags: bigint): Promise<AccessStamp | null>;
  /** True when `userId` holds every bit of `flags` in `scopeId`. */
  allows(userId: string, scopeId: string, flags: bigint): Promise<boolean>;
}

/**
 * The scopes of a community that `userId` may view: the community and every live scope
 * under it where the user is a member (membership is the view rule until the permission
 * helper offers a bulk check that applies View overwrites too).
 */
export async function viewableScopesUnder(db: Db, userId: string, communityId: string): Promise<string[]> {
  const rows = await db
    .select({ id: scopes.id })
    .from(scopes)
    .innerJoin(memberships, and(eq(memberships.scopeId, scopes.id), eq(memberships.userId, userId)))
    .where(and(or(eq(scopes.id, communityId), arrayContains(scopes.path, [communityId])), isNull(scopes.deletedAt)));
  return rows.map((r) => r.id);
}
