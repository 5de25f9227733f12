import { inArray, sql } from 'drizzle-orm';
import { scopeEvents, scopes } from '../db/schema/index.js';
import type { Db } from '../db/client.js';
import type { ScopeEventRow, ScopeEventType } from './events.js';

/** A transaction or the database: anything drizzle can insert through. */
export type Tx = Pick<Db, 'insert' | 'select' | 'update' | 'delete' | 'execute'>;

/**
 * Appends one event to a scope's log inside the caller's transaction. The seq trigger
 * numbers it (gapless, in commit order) and holds the scope row lock until commit.
 * Publish the returned event only after the transaction commits.
 * @param payload type-specific fields (see ScopeEvent); message events pass `messageId`.
 */
export async function appendEvent(
  tx: Tx,
  e: { scopeId: string; type: ScopeEventType; actorId: string | null; messageId?: string | null; payload?: Record<string, unknown> },
): Promise<ScopeEventRow> {
  const [row] = await tx
    .insert(scopeEvents)
    .values({
      scopeId: e.scopeId,
      seq: 0, // replaced by the trigger
      type: e.type,
      actorId: e.actorId,
      messageId: e.messageId ?? null,
      payload: e.payload ?? {},
    })
    .returning();
  return row!;
}

/**
 * Locks the scope row the way the seq trigger does (FOR NO KEY UPDATE), so a transaction
 * that decides what its event says before appending it (a reaction's count, a poll's
 * tally) takes the scope first: the one lock order of appendEvent's callers
 * (drizzle/0035_poll_survey_triggers.sql).
 */
export async function lockScope(tx: Tx, scopeId: string): Promise<void> {
  await tx.execute(sql`select 1 from scopes where id = ${scopeId} for no key update`);
}

/** The last seq of each conversation in `scopeIds` (one query), for the feed sweep. */
export async function latestSeqs(db: Db, scopeIds: string[]): Promise<Map<string, number>> {
  if (scopeIds.length === 0) return new Map();
  const rows = await db.select({ id: scopes.id, lastSeq: scopes.lastSeq }).from(scopes).where(inArray(scopes.id, scopeIds));
  return new Map(rows.map((r) => [r.id, r.lastSeq]));
}
