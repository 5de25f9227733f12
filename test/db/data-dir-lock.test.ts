import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/db/client.js';
import { LOCK_SOCKET, lockDataDir } from '../../src/db/data-dir-lock.js';
import { describeError } from '../../src/log.js';
import { REPO_ROOT } from '../helpers/process.js';

const root = mkdtempSync(path.join(tmpdir(), 'guildhall-lock-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/**
 * A process of its own that takes the lock of `dir` at `at` (ms since the epoch, or at
 * once), prints `held` or `refused: <message>`, and keeps running until killed; with
 * `busyMs`, its event loop is then blocked that long (as PGlite's start blocks it).
 */
function locker(dir: string, at = 0, busyMs = 0) {
  const lock = pathToFileURL(path.join(REPO_ROOT, 'src/db/data-dir-lock.ts')).href;
  const script = `
    const { lockDataDir } = await import(${JSON.stringify(lock)});
    await new Promise((r) => setTimeout(r, Math.max(0, ${at} - Date.now())));
    try { await lockDataDir(${JSON.stringify(dir)}); console.log('held'); }
    catch (err) { console.log('refused: ' + err.message); }
    for (const end = Date.now() + ${busyMs}; Date.now() < end; );
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const said = new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  return { child, said };
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('one process per embedded data directory', () => {
  it('refuses a second open of the same DATA_DIR from this process, while the first keeps serving; frees it on close', async () => {
    const dir = path.join(root, 'shared');
    const first = await openDatabase({ dataDir: dir });
    await expect(openDatabase({ dataDir: dir })).rejects.toThrow(`DATA_DIR ${dir} is in use by this process (pid ${process.pid}, since `);
    await first.db.execute(sql`create table kept (v int)`);
    await first.db.execute(sql`insert into kept values (7)`);
    await first.close();
    expect(existsSync(path.join(dir, LOCK_SOCKET))).toBe(false);

    const again = await openDatabase({ dataDir: dir });
    const rows = await again.db.execute(sql`select v from kept`);
    expect((rows as unknown as { rows: { v: number }[] }).rows).toEqual([{ v: 7 }]);
    await again.close();
  }, 120_000); // a PGlite initdb and two opens on a 2-core machine

  it('refuses while another process holds it, naming its pid, and takes it over at once when that process is killed', async () => {
    const dir = path.join(root, 'other');
    mkdirSync(dir);
    const other = locker(dir);
    expect(await other.said).toBe('held');
    await expect(lockDataDir(dir)).rejects.toThrow(`DATA_DIR ${dir} is in use by another Guildhall process (pid ${other.child.pid}, since `);
    await expect(lockDataDir(dir)).rejects.toThrow(/set DATABASE_URL and REDIS_URL/);
    await killed(other.child);
    expect(existsSync(path.join(dir, LOCK_SOCKET))).toBe(true); // left by the SIGKILL
    const release = await lockDataDir(dir);
    release();
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('refuses while the holder is too busy to answer, naming the directory and how to find the holder', async () => {
    const dir = path.join(root, 'busy');
    mkdirSync(dir);
    const busy = locker(dir, 0, 8_000);
    expect(await busy.said).toBe('held'); // printed just before its event loop blocks
    const refused = await lockDataDir(dir).then(
      () => 'taken',
      (err: Error) => err.message,
    );
    expect(refused).toContain(`DATA_DIR ${dir} is in use by another Guildhall process (busy, e.g. still opening its database: it did not answer within 2 s; \`lsof ${path.join(dir, LOCK_SOCKET)}\` names it)`);
    expect(refused).toContain('Stop the other process or give this one its own DATA_DIR');
    await killed(busy.child);
  }, 60_000);

  it('lets exactly one of four processes starting together take a lock left by a killed one', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const dir = path.join(root, `race-${trial}`);
      mkdirSync(dir);
      const dead = locker(dir);
      expect(await dead.said).toBe('held');
      await killed(dead.child);
      const at = Date.now() + 1_500;
      const racers = Array.from({ length: 4 }, () => locker(dir, at));
      const said = await Promise.all(racers.map((r) => r.said));
      expect(said.filter((s) => s === 'held'), said.join('\n')).toHaveLength(1);
      expect(said.filter((s) => s.startsWith('refused: ') && s.includes('in use by another Guildhall process'))).toHaveLength(3);
      await Promise.all(racers.map((r) => killed(r.child)));
    }
  }, 120_000);

  it('waits out a takeover mutex left by a process that died inside its takeover, then takes the lock', async () => {
    const dir = path.join(root, 'stale-mutex');
    mkdirSync(dir);
    const dead = locker(dir);
    expect(await dead.said).toBe('held');
    await killed(dead.child);
    // The mutex of a takeover that never finished, 7 s old: it counts as stale 3 s from now.
    const mutex = path.join(dir, `${LOCK_SOCKET}.takeover`);
    mkdirSync(mutex);
    const madeAt = Date.now() - 7_000;
    utimesSync(mutex, madeAt / 1000, madeAt / 1000);
    const release = await lockDataDir(dir);
    expect(Date.now() - madeAt).toBeGreaterThanOrEqual(10_000);
    expect(readdirSync(dir)).toEqual([LOCK_SOCKET]);
    release();
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('refuses with one line naming the path when a directory is where the socket goes, and leaves it', async () => {
    const dir = path.join(root, 'socket-is-a-dir');
    const socket = path.join(dir, LOCK_SOCKET);
    mkdirSync(path.join(socket, 'inside'), { recursive: true });
    await expect(lockDataDir(dir)).rejects.toThrow(
      `DATA_DIR ${dir}: ${socket} is a directory, where the lock's Unix socket goes: move it away or remove it (Guildhall keeps nothing there), or set DATA_DIR to another directory`,
    );
    expect(readdirSync(socket)).toEqual(['inside']);
  });

  it('works for a directory whose socket path is longer than a Unix socket address takes, and leaves nothing elsewhere', async () => {
    const dir = path.join(root, 'd'.repeat(60), 'e'.repeat(60));
    mkdirSync(dir, { recursive: true });
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith('guildhall-') && !root.endsWith(f));
    const release = await lockDataDir(dir);
    expect(readdirSync(dir)).toEqual([LOCK_SOCKET]);
    await expect(lockDataDir(dir)).rejects.toThrow('is in use by this process');
    release();
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('guildhall-') && !root.endsWith(f))).toEqual(before);
    expect(readdirSync(path.dirname(dir))).toEqual(['e'.repeat(60)]);
  });
});

describe('describeError', () => {
  it('names an error that is not an Error (PGlite throws Emscripten file-system errors as plain objects)', () => {
    class ErrnoError {
      name = 'ErrnoError';
      errno = 63;
    }
    expect(describeError(new ErrnoError())).toBe('ErrnoError {"name":"ErrnoError","errno":63}');
    expect(describeError(new Error('plain'))).toBe('plain');
    expect(describeError('text')).toBe('text');
    expect(describeError(undefined)).toBe('undefined');
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(describeError(cyclic)).toBe('Object (not serialisable)');
  });
});
