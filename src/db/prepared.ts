import type { Db } from './client.js';

type PgPool = { query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }> };
type PgliteClient = { exec: unknown; query(text: string, values: unknown[]): Promise<{ rows: unknown[] }> };

/**
 * Runs one hand-written statement of a hot path on the database's own client, without
 * drizzle's query building: on PostgreSQL as a named (prepared) statement of pg's Pool,
 * parsed and planned once per connection; on PGlite as a parameterised query.
 * For the hot paths (a plain send, a history page, a vote, a live-results event), where
 * drizzle's query building per call showed in profiles. `name` must be unique per statement text. Rows come as the driver parses them (pg: int8
 * as a string, json parsed, timestamptz as a Date).
 */
export async function queryPrepared<R>(db: Db, name: string, text: string, values: unknown[]): Promise<R[]> {
  const client = (db as unknown as { $client: PgPool | PgliteClient }).$client;
  const res = 'exec' in client ? await client.query(text, values) : await (client as PgPool).query({ name, text, values });
  return res.rows as R[];
}
