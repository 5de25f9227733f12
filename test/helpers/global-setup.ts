import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.js';
import { PG_ADMIN_URL, dbUrl } from './env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Builds a migrated template database for this run (its own name, so parallel runs do not
 * collide); each test file clones it with CREATE DATABASE … TEMPLATE, which takes
 * milliseconds. The template is dropped when the run ends.
 */
export default async function setup(project: TestProject) {
  const name = `guildhall_tpl_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const database = await openDatabase({ databaseUrl: dbUrl(name), dataDir: 'unused' });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  project.provide('templateDb', name);
  return async () => {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
}
