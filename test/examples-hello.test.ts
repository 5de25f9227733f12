import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../src/server.js';
import { createTestDatabase } from './helpers/db.js';
import { REPO_ROOT } from './helpers/process.js';
import { startServer, testPrefix } from './helpers/server.js';

/*
 * `import … from '@guildhall/sdk'` inside a clone (README "Using the SDK from a clone"):
 * tsconfig.json's `paths` maps it to sdk/src, and tsx follows it with nothing built or
 * installed. Runs examples/hello.ts as the README says, `npx tsx examples/hello.ts`.
 */

const run = promisify(execFile);
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
}, 60_000);
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
});

describe('@guildhall/sdk inside a clone', () => {
  it('resolves to sdk/src for a script run with tsx from the clone: examples/hello.ts sends and reads back a message', async () => {
    const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
    const { stdout } = await run(tsx, ['examples/hello.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', GUILDHALL_URL: server.url },
    });
    expect(stdout.trim()).toBe('#1 message.created: hello');
  }, 60_000);
});
