import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { REPO_ROOT } from '../helpers/process.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('stops gracefully when SIGTERM goes to the npm process (a process manager signals only its child)', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const listening = new Promise<string>((resolve) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.includes('guildhall listening'));
        if (line) resolve(line);
      };
      npm.stdout!.on('data', onData);
      npm.stderr!.on('data', onData);
    });
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    const line = await listening;
    const { url, pid } = JSON.parse(line) as { url: string; pid: number };
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // The server is node itself, not a shell between npm and node (the start script execs it).
      expect(pid).not.toBe(npm.pid);

      npm.kill('SIGTERM');
      // The drain: /readyz turns 503 at once, while requests are still served.
      let ready: Response;
      while ((ready = await fetch(`${url}/readyz`)).status === 200);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ok: false, draining: true });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(await exited).toBe(0);
      expect(out).toMatch(/"msg":"draining/);
      expect(out).toMatch(/"msg":"shutting down"/);
      expect(out).toMatch(/"msg":"stopped"/);
      expect(alive(pid)).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
