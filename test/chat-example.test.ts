import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../src/server.js';
import { createTestDatabase } from './helpers/db.js';
import { REPO_ROOT, freePort } from './helpers/process.js';
import { startServer, testPrefix } from './helpers/server.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
const cwd = mkdtempSync(path.join(tmpdir(), 'guildhall-chat-'));

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
}, 60_000);
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
  rmSync(cwd, { recursive: true, force: true });
});

/** Runs examples/chat.ts as `npm run chat` does, with `input` piped to it; resolves when it exits. */
function chat(args: string[], env: Record<string, string>, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const loader = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', loader, path.join(REPO_ROOT, 'examples/chat.ts'), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('the terminal chat example', () => {
  it('follows PORT without --url and shows authors by their display names', async () => {
    const env = { PORT: String(server.port) };
    const alice = await chat(['--email', 'alice@example.com', '--name', 'Alice Liddell', '--room', 'lobby'], env, 'hello from alice\n/quit\n');
    expect(alice.stderr).toBe('');
    expect(alice.code).toBe(0);
    expect(alice.stdout).toContain(`on http://127.0.0.1:${server.port}`);
    expect(alice.stdout).toMatch(/\] Alice Liddell: hello from alice/);

    const bob = await chat(['--email', 'bob@example.com', '--name', 'Bob', '--room', 'lobby'], env, 'hi alice\n/quit\n');
    expect(bob.code).toBe(0);
    // Alice's message, from the history, under her name (the server's, not a local record).
    expect(bob.stdout).toMatch(/\] Alice Liddell: hello from alice/);
    expect(bob.stdout).toMatch(/\] Bob: hi alice/);
    expect(bob.stdout).not.toMatch(/user:[0-9a-f]{8}/);
  }, 60_000);

  it('names the URL it tried when the server cannot be reached', async () => {
    const port = await freePort();
    const viaPort = await chat(['--email', 'carol@example.com', '--room', 'lobby'], { PORT: String(port) }, '');
    expect(viaPort.code).toBe(1);
    expect(viaPort.stderr).toContain(`cannot reach the server at http://127.0.0.1:${port}`);
    const viaUrl = await chat(['--url', `http://127.0.0.1:${port}/`, '--email', 'carol@example.com', '--room', 'lobby'], {}, '');
    expect(viaUrl.code).toBe(1);
    expect(viaUrl.stderr).toContain(`cannot reach the server at http://127.0.0.1:${port} (`);
  }, 30_000);
});
