import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema/index.js';
import { lockDataDir } from './data-dir-lock.js';
import { pgliteOpenError } from './open-error.js';
import { usableDir } from '../infra/usable-dir.js';

/** The drizzle database, whichever driver is underneath (pg or PGlite). */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A database handle plus what it takes to migrate, probe and close it. */
export interface Database {
  db: Db;
  /**
   * The same database through a small pool of its own (2 connections on PostgreSQL; PGlite:
   * `db`), for background writes that must not queue behind request traffic for the
   * main pool's connections: the live-results coalescer (src/polls/live.ts).
   */
  background: Db;
  driver: 'pg' | 'pglite';
  /** Runs the drizzle migrations under a PostgreSQL advisory lock. */
  migrate(): Promise<void>;
  /** Resolves when the database answers `select 1`. */
  ping(): Promise<void>;
  /** Pool connections checked out and queries waiting for one (null for PGlite: one connection, no pool). */
  poolStats(): { inUse: number; waiting: number } | null;
  close(): Promise<void>;
}

const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));
/** Any fixed 64-bit number; every instance takes the same one while migrating. */
const MIGRATION_LOCK_KEY = 7_235_119_004;

/**
 * Opens PostgreSQL through `pg` when `databaseUrl` is set, else PGlite with its
 * files under `<dataDir>/pglite` (kept across restarts; `memory://` keeps nothing).
 */
export async function openDatabase(opts: { databaseUrl?: string; dataDir: string }): Promise<Database> {
  if (opts.databaseUrl) return openPg(opts.databaseUrl);
  return openPglite(opts.dataDir);
}

async function openPg(url: string): Promise<Database> {
  const { Pool } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const pool = new Pool({ connectionString: url, max: 10, idleTimeoutMillis: 30_000 });
  // An idle client's network error must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // A checked-out client (between the statements of a transaction) whose backend is
  // terminated (pg_terminate_backend, a restart) emits 'error' with no listener of the
  // pool's: without this one the process crashes. Its pending query fails instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = drizzle(pool, { schema }) as unknown as Db;
  const side = new Pool({ connectionString: url, max: 2, idleTimeoutMillis: 30_000 });
  side.on('error', () => {});
  side.on('connect', (client) => client.on('error', () => {}));
  const background = drizzle(side, { schema }) as unknown as Db;
  return {
    db,
    background,
    driver: 'pg',
    poolStats: () => ({ inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount }),
    async migrate() {
      // Session-level lock on one dedicated connection; the migration itself runs on the
      // pool. Another instance blocks on the lock until this one is done, then finds
      // nothing left to apply.
      const lockClient = await pool.connect();
      try {
        await lockClient.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await lockClient.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
        lockClient.release();
      }
    },
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      await Promise.all([pool.end(), side.end()]);
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let dir = 'memory://';
  let release = () => {};
  if (dataDir !== 'memory://') {
    const root = path.resolve(dataDir);
    dir = path.join(root, 'pglite');
    // Named by the file system's own error rather than by PGlite's "failed to initialize properly".
    usableDir(root, 'the embedded database');
    usableDir(dir, 'the embedded database');
    release = await lockDataDir(root);
  }
  let client;
  try {
    client = await createPglite(PGlite, dir);
  } catch (err) {
    release();
    throw err;
  }
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    background: db,
    driver: 'pglite',
    poolStats: () => null,
    async migrate() {
      // PGlite is one in-process session, so the lock only documents the rule here.
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        await migrate(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      try {
        await client.close();
      } finally {
        release();
      }
    },
  };
}

type PGliteClass = typeof import('@electric-sql/pglite').PGlite;

/**
 * Opens PGlite on `dir`. A new data directory is initialised (initdb) by the first instance
 * that opens it, and that grows PGlite's WebAssembly memory, which never shrinks, to about
 * twice what serving needs (957 MB RSS at ready against 488 MB on a later start). So the
 * initialising instance is closed and the serving one opened afresh. Every error is rethrown
 * as one naming the directory and what to do (pgliteOpenError).
 */
async function createPglite(PGlite: PGliteClass, dir: string) {
  try {
    if (dir !== 'memory://' && !existsSync(path.join(dir, 'PG_VERSION'))) await (await PGlite.create(dir)).close();
    return await PGlite.create(dir);
  } catch (err) {
    throw pgliteOpenError(dir, err);
  }
}

/** The SQLSTATE of a database error, looking through drizzle's DrizzleQueryError wrapper. */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** The constraint a database error names (RAISE … CONSTRAINT, or a key), looking through drizzle's wrapper. */
export function pgConstraint(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const c = (e as { constraint?: unknown }).constraint;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

/** The message of the database error under drizzle's wrapper (for trigger refusals). */
export function pgErrorMessage(err: unknown): string {
  for (let e: unknown = err, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    if ((e as { code?: unknown }).code && e instanceof Error) return e.message;
  }
  return err instanceof Error ? err.message : String(err);
}
