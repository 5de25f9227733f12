import type { Db } from './client.js';

type PgPool = { query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }> };
type PgliteClient = { exec: unknown; query(text: string, values: unknown[]): Promise<{ rows: unknown[] }> };

/**
 * Runs one statement (`text`, `$n` parameters `values`) on the database's own client,
 * past drizzle: on pg's Pool as a named (prepared) statement `name`, parsed and planned
 * once per connection; on PGlite as is. For the hot paths (a plain send, a vote, a
 * live-results event), where drizzle's query building per call showed in profiles.
 * @returns the result rows, with pg's (or PGlite's) type parsing.
 */
export async function runNamed(db: Db, name: string, text: string, values: unknown[]): Promise<unknown[]> {
  const client = (db as unknown as { $client: PgPool | PgliteClient }).$client;
  const res = 'exec' in client ? await client.query(text, values) : await (client as PgPool).query({ name, text, values });
  return res.rows;
}
