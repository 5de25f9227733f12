import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/db/client.js';
import { lockDataDir } from '../../src/db/data-dir-lock.js';
import { describeError } from '../../src/log.js';

const root = mkdtempSync(path.join(tmpdir(), 'guildhall-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has run and exited, so no process holds it now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('one process per embedded data directory', () => {
  it('refuses a second open of the same DATA_DIR, naming it, while the first keeps serving; frees it on close', async () => {
    const dir = path.join(root, 'shared');
    const first = await openDatabase({ dataDir: dir });
    await expect(openDatabase({ dataDir: dir })).rejects.toThrow(
      new RegExp(`DATA_DIR ${path.resolve(dir).replace(/[/\\]/g, '.')} is in use by this process \\(pid ${process.pid}`),
    );
    await first.db.execute(sql`create table kept (v int)`);
    await first.db.execute(sql`insert into kept values (7)`);
    await first.close();
    expect(existsSync(path.join(dir, 'guildhall.pid'))).toBe(false);

    const again = await openDatabase({ dataDir: dir });
    const rows = await again.db.execute(sql`select v from kept`);
    expect((rows as unknown as { rows: { v: number }[] }).rows).toEqual([{ v: 7 }]);
    await again.close();
  }, 120_000); // a PGlite initdb and two opens on a 2-core machine

  it('refuses a lock held by another running process, with its pid and what to do', async () => {
    const file = path.join(root, 'other.pid');
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      writeFileSync(file, `${child.pid}\n2026-12-03T06:00:00.000Z\n`);
      expect(() => lockDataDir(file, '/data')).toThrow(
        `DATA_DIR /data is in use by another Guildhall process (pid ${child.pid}, since 2026-12-03T06:00:00.000Z)`,
      );
      expect(() => lockDataDir(file, '/data')).toThrow(/set DATABASE_URL and REDIS_URL/);
      expect(readFileSync(file, 'utf8')).toContain(String(child.pid));
    } finally {
      child.kill();
    }
  });

  it('takes over a lock left by a process that has exited (a crash, a SIGKILL)', async () => {
    const file = path.join(root, 'stale.pid');
    writeFileSync(file, `${await deadPid()}\n2026-12-01T00:00:00.000Z\n`);
    const release = lockDataDir(file, '/data');
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(process.pid));
    release();
    expect(existsSync(file)).toBe(false);
  });

  it('takes over a lock that is empty or unreadable as a pid, and one with its own pid from an earlier life', () => {
    const file = path.join(root, 'odd.pid');
    for (const content of ['', 'not a pid\n', `${process.pid}\n2026-01-01T00:00:00.000Z\n`]) {
      writeFileSync(file, content);
      const release = lockDataDir(file, '/data');
      expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(process.pid));
      release();
    }
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
