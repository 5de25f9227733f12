import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

/** The lock's socket, in the data directory. */
export const LOCK_SOCKET = 'guildhall.sock';
/** Longest socket path used as it is: Linux's sun_path is 108 bytes, and Node silently truncates a longer one. */
const MAX_SOCKET_PATH = 100;
/** How long a probe waits for the holder's answer once connected (the holder's event loop may be busy in PGlite). */
const PROBE_ANSWER_MS = 2_000;
/** How long a takeover waits before its second look (a socket is bound a moment before it listens). */
const TAKEOVER_PAUSE_MS = 100;
/** A takeover mutex older than this was left by a process that died inside its takeover. */
const STALE_MUTEX_MS = 10_000;
/** How long a start keeps trying to take the lock (ms): past STALE_MUTEX_MS, so a mutex left by a dead process is waited out. */
const LOCK_WAIT_MS = STALE_MUTEX_MS + 5_000;
/** The pause between two looks at a takeover mutex held by someone else (ms). */
const MUTEX_RETRY_MS = 50;

interface Holder {
  pid: number;
  since: string;
  instance: string;
}

/** The instance ids of the locks this process holds, so a second open from this process is named as such. */
const mine = new Set<string>();

/**
 * Takes the embedded data directory's lock: a Unix socket, `<dataDir>/guildhall.sock`,
 * listened on by the one process serving `dataDir`. PGlite keeps the database in its
 * process's memory, so two processes on one directory would each serve a copy of their
 * own and the writes of one would be lost.
 *
 * The kernel tells whether the holder lives: a connect succeeds only while the socket is
 * listened on, whatever pid namespace (container) the holder runs in, and the holder
 * answers with its pid and start time. A socket nobody listens on was left by a crash or a
 * SIGKILL and is taken over at once, under a mutex (`guildhall.sock.takeover`, made with
 * an exclusive mkdir) that re-checks the socket, so two starts after a crash cannot both
 * take it. (A pid file judged by `kill(pid, 0)` cannot see across pid namespaces: two
 * containers on one volume, each pid 1, both started; a lock judged by the file's age,
 * as proper-lockfile does, refuses a restart after a crash for its whole stale window.)
 * A mutex left by a process that died inside its takeover is removed once it is
 * STALE_MUTEX_MS (10 s) old: a start that finds one waits for that, quietly, and keeps
 * trying for at most LOCK_WAIT_MS (15 s) in all.
 * Not for a directory shared between hosts (NFS): a socket there is not a lock.
 *
 * @returns the release function (idempotent; also run on process exit).
 * @throws Error naming the directory and the holder (its pid, when it answered) while a
 *   process, this one included, holds the lock; Error naming the socket's path when a
 *   directory is there, or when it still could not be taken after LOCK_WAIT_MS.
 */
export async function lockDataDir(dataDir: string): Promise<() => void> {
  const socket = path.join(dataDir, LOCK_SOCKET);
  const deadline = Date.now() + LOCK_WAIT_MS;
  do {
    const server = await tryListen(socket);
    if (server) return holding(server, socket);
    if (statOrNull(socket)?.isDirectory()) {
      throw new Error(`DATA_DIR ${dataDir}: ${socket} is a directory, where the lock's Unix socket goes: move it away or remove it (Guildhall keeps nothing there), or set DATA_DIR to another directory`);
    }
    const seen = identity(socket);
    const state = await probe(socket);
    if (state !== 'dead' && state !== 'gone') throw inUse(dataDir, socket, state);
    if (state === 'dead' && seen) await takeOver(socket, seen);
  } while (Date.now() < deadline);
  throw new Error(`DATA_DIR ${dataDir}: could not take its lock ${socket}: other processes keep taking and leaving it`);
}

function holding(server: net.Server, socket: string): () => void {
  const holder: Holder = { pid: process.pid, since: new Date().toISOString(), instance: randomUUID() };
  mine.add(holder.instance);
  server.on('connection', (c) => {
    c.on('error', () => {});
    c.end(`${JSON.stringify(holder)}\n`);
  });
  server.unref();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    mine.delete(holder.instance);
    process.off('exit', release);
    server.close();
    // Closing a listening Unix socket's server removes its file in Node; this is for the exit path.
    rmSync(socket, { force: true });
  };
  process.on('exit', release);
  return release;
}

/** Listens on `socket`: the server, or null when the path exists (EADDRINUSE). */
function tryListen(socket: string): Promise<net.Server | null> {
  return withAddress(socket, (address) =>
    new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') return resolve(null);
        reject(new Error(`DATA_DIR ${path.dirname(socket)}: cannot create its lock, the Unix socket ${socket} (${err.code ?? err.message}); put DATA_DIR on a local file system that this user can write`, { cause: err }));
      });
      server.listen(address, () => resolve(server));
    }),
  );
}

/**
 * Whether someone listens on `socket`: its answer (or `'silent'` when it accepted and said
 * nothing in time: alive, its event loop busy), `'dead'` when the file is there and nobody
 * listens, `'gone'` when there is no file.
 */
function probe(socket: string): Promise<Holder | 'silent' | 'dead' | 'gone'> {
  return withAddress(socket, (address) =>
    new Promise((resolve) => {
      const c = net.connect(address);
      let text = '';
      let connected = false;
      const done = (v: Holder | 'silent' | 'dead' | 'gone') => {
        clearTimeout(timer);
        c.destroy();
        resolve(v);
      };
      const timer = setTimeout(() => done('silent'), PROBE_ANSWER_MS);
      c.on('connect', () => (connected = true));
      c.on('data', (d) => (text += d.toString()));
      c.on('end', () => done(parseHolder(text) ?? 'silent'));
      c.on('error', (err: NodeJS.ErrnoException) => {
        if (connected) return done('silent');
        done(err.code === 'ENOENT' ? 'gone' : err.code === 'ECONNREFUSED' ? 'dead' : 'silent');
      });
    }),
  );
}

/** The stat of `p`, or null when it cannot be read (there is none). */
function statOrNull(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** The file at `path` (inode, change time), or null when there is none. */
function identity(p: string): string | null {
  const st = statOrNull(p);
  return st && `${st.ino}:${st.ctimeMs}`;
}

/**
 * Removes the socket file `seen` (found with nobody listening), inside the takeover mutex,
 * after a pause and a second look: only when the same file is still there and still has
 * nobody listening. A socket is bound a moment before it listens; a file bound by another
 * start since (another inode), or in that moment when first looked at, is left alone.
 * When another process holds the mutex, returns after MUTEX_RETRY_MS for the caller to
 * look again, or at once after removing the mutex when it is older than STALE_MUTEX_MS
 * (its maker died inside its takeover).
 */
async function takeOver(socket: string, seen: string): Promise<void> {
  const mutex = `${socket}.takeover`;
  try {
    mkdirSync(mutex);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (statOrNull(mutex)?.mtimeMs ?? Date.now());
    if (age > STALE_MUTEX_MS) rmSync(mutex, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, MUTEX_RETRY_MS));
    return;
  }
  try {
    await new Promise((r) => setTimeout(r, TAKEOVER_PAUSE_MS));
    if (identity(socket) === seen && (await probe(socket)) === 'dead' && identity(socket) === seen) unlinkSync(socket);
  } finally {
    rmSync(mutex, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with an address for `socket` that fits sun_path: the path itself, or, when it
 * is longer, the same file through a symbolic link to its directory from a short temporary
 * directory (the kernel resolves the link, so the socket is the one in the data directory).
 */
async function withAddress<T>(socket: string, fn: (address: string) => Promise<T>): Promise<T> {
  if (Buffer.byteLength(socket) <= MAX_SOCKET_PATH) return fn(socket);
  const short = mkdtempSync(path.join(tmpdir(), 'guildhall-'));
  try {
    symlinkSync(path.dirname(socket), path.join(short, 'd'));
    return await fn(path.join(short, 'd', path.basename(socket)));
  } finally {
    rmSync(short, { recursive: true, force: true });
  }
}

function parseHolder(text: string): Holder | null {
  try {
    const v = JSON.parse(text) as Holder;
    return typeof v.pid === 'number' && typeof v.since === 'string' && typeof v.instance === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * The refusal of `dataDir`, held by `holder` on `socket`: its pid when it answered; when it
 * did not (`'silent'`: its event loop blocked, as in PGlite's start), a command that names it.
 */
function inUse(dataDir: string, socket: string, holder: Holder | 'silent'): Error {
  const who =
    holder === 'silent'
      ? `another Guildhall process (busy, e.g. still opening its database: it did not answer within ${PROBE_ANSWER_MS / 1000} s; \`lsof ${socket}\` names it)`
      : mine.has(holder.instance)
        ? `this process (pid ${holder.pid}, since ${holder.since})`
        : `another Guildhall process (pid ${holder.pid}, since ${holder.since})`;
  return new Error(
    `DATA_DIR ${dataDir} is in use by ${who}: the embedded database serves one process at a time, and a second one would keep its own copy and lose writes. ` +
      'Stop the other process or give this one its own DATA_DIR; to run several instances on one database, set DATABASE_URL and REDIS_URL.',
  );
}
