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
