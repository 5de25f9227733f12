import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Lock files this process holds, so a second open from the same process is refused too. */
const held = new Set<string>();

/**
 * Takes the embedded data directory's lock: `file` (`<DATA_DIR>/guildhall.pid`) holds the
 * pid of the one process serving `dataDir` and when it took it. PGlite keeps the database in
 * its process's memory, so two processes on one directory would each serve a copy of their
 * own and the writes of one would be lost on the next start.
 *
 * The rule is PostgreSQL's own for `postmaster.pid`: the file is created exclusively (here a
 * complete temporary file hard-linked into place, so nobody reads it half-written); a file
 * whose pid no longer runs was left by a crash or a SIGKILL and is taken over at once. A
 * lock library that judges staleness by the file's age (proper-lockfile) would either refuse
 * a restart after a crash for its whole stale window, or break the lock of a process whose
 * event loop PGlite blocks for seconds (initdb, migrations).
 *
 * Returns the release function (idempotent; also run on process exit).
 * Throws an Error naming the directory and the holder's pid when a running process, or this
 * one, holds the lock; and the file system's own error (with its path) when the directory
 * cannot be written.
 */
export function lockDataDir(file: string, dataDir: string): () => void {
  const lock = path.resolve(file);
  if (held.has(lock)) throw inUse(dataDir, lock, 'this process', process.pid, undefined);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(lock)) {
      held.add(lock);
      const release = () => {
        if (!held.delete(lock)) return;
        process.off('exit', release);
        if (readOwner(lock)?.pid === process.pid) rmSync(lock, { force: true });
      };
      process.on('exit', release);
      return release;
    }
    const owner = readOwner(lock);
    // The same pid as ours is an earlier life of this pid (pid 1 in a restarted container).
    if (owner && owner.pid !== process.pid && isRunning(owner.pid)) {
      throw inUse(dataDir, lock, 'another Guildhall process', owner.pid, owner.since);
    }
    rmSync(lock, { force: true });
  }
  throw new Error(`DATA_DIR ${dataDir}: could not take the lock ${lock}: other processes keep replacing it`);
}

function tryCreate(lock: string): boolean {
  const tmp = `${lock}.${process.pid}.tmp`;
  writeFileSync(tmp, `${process.pid}\n${new Date().toISOString()}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

function readOwner(lock: string): { pid: number; since: string | undefined } | null {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return null;
  }
  const [pidLine, since] = text.split('\n');
  const pid = Number(pidLine);
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, since: since || undefined } : null;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(dataDir: string, lock: string, who: string, pid: number, since: string | undefined): Error {
  return new Error(
    `DATA_DIR ${dataDir} is in use by ${who} (pid ${pid}${since ? `, since ${since}` : ''}): ` +
      'the embedded database serves one process at a time, and a second one would keep its own copy and lose writes. ' +
      'Stop the other process or give this one its own DATA_DIR; to run several instances on one database, set DATABASE_URL and REDIS_URL. ' +
      `If no such process runs, delete ${lock}.`,
  );
}
