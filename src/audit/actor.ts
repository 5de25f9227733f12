import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';

/** A transaction handle of `Db`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Runs `fn` in a transaction that tells the audit triggers who acts and why:
 * `guildhall.actor_id` (a user id) and `guildhall.action` (the procedure, e.g.
 * `moderation.ban`), both local to the transaction (`set_config(..., true)`).
 * Every governance write goes through here, so every audit row names its actor.
 */
export async function asActor<T>(db: Db, actorId: string, action: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('guildhall.actor_id', ${actorId}, true), set_config('guildhall.action', ${action}, true)`);
    return fn(tx);
  });
}

/** Rows of a raw query, whichever driver runs it (pg's QueryResult and PGlite's Results both carry `rows`). */
export async function rowsOf<T>(db: Db | Tx, query: ReturnType<typeof sql>): Promise<T[]> {
  const res = (await db.execute(query)) as unknown as { rows: T[] };
  return res.rows;
}
