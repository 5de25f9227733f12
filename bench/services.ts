/**
 * What the benchmarks do to the PostgreSQL and Redis they run on: migrate a database
 * with the real migrations, and delete a run's Redis keys.
 */
import { Redis } from 'ioredis';

/** Runs the project's migrations (src/db/client.ts) on `databaseUrl`. */
export async function migrateDatabase(databaseUrl: string): Promise<void> {
  const { openDatabase } = await import('../src/db/client.js');
  const database = await openDatabase({ databaseUrl, dataDir: 'unused' });
  await database.migrate();
  await database.close();
}

/** Deletes every key under `prefix` (a run's random prefix). */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

/** A run's own database and Redis prefix (`freshRun`), and the children to stop with them. */
export interface FreshRun {
  /** The new database, migrated. */
  databaseUrl: string;
  /** A random Redis key prefix (`bench:<hex>:`). */
  prefix: string;
  /** Children pushed here are stopped by `cleanup`, before the database is dropped. */
  children: { stop(): Promise<void> }[];
  /** Stops the children, drops the database (FORCE) and deletes the prefix's keys. */
  cleanup(): Promise<void>;
}

/**
 * Creates a database `bench_<tag>_<hex>` through `adminUrl` (migrated with the real
 * migrations) and a random Redis prefix, for one bench run; `cleanup` undoes both.
 */
export async function freshRun(tag: string, adminUrl: string, redisUrl: string): Promise<FreshRun> {
  const { randomBytes } = await import('node:crypto');
  const { default: pg } = await import('pg');
  const dbName = `bench_${tag}_${randomBytes(4).toString('hex')}`;
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const children: FreshRun['children'] = [];
  const cleanup = async () => {
    await Promise.all(children.map((c) => c.stop().catch(() => {})));
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) => console.error(`could not drop ${dbName}: ${err}`));
    await admin.end();
    await deleteRedisKeys(redisUrl, prefix);
  };
  try {
    await migrateDatabase(databaseUrl);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { databaseUrl, prefix, children, cleanup };
}
