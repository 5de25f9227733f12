import pg from 'pg';
import { openDatabase } from '../../src/db/client.js';
import { PG_ADMIN_URL, TEMPLATE_DB, dbUrl } from './env.js';

/**
 * Builds the migrated template database once per run; each test file clones it
 * (CREATE DATABASE … TEMPLATE), which takes milliseconds.
 */
export default async function setup() {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const database = await openDatabase({ databaseUrl: dbUrl(TEMPLATE_DB), dataDir: 'unused' });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
}
