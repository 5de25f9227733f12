/**
 * Connection benchmark: N WebSocket connections, each signed in and subscribed to one
 * room's stream, against our real server (PostgreSQL + Redis) and against a bare `ws`
 * server doing the equivalent (accept, an auth message, a subscribe message, an ack).
 *
 *   npm run bench:connections -- [--connections 1000] [--rooms 10] [--rounds 3]
 *                                [--concurrency 100] [--servers ws,ours] [--no-pin]
 *                                [--node-flags "--cpu-prof --cpu-prof-dir=bench/profiles"]
 *                                [--heap-snapshot] [--profile] [--driver-profile] [--trips]
 *
 *   --heap-snapshot  writes heap snapshots of our server before the N connections open
 *                    and while they are open (bench/profiles/), for a diff by constructor
 *   --profile        a V8 CPU profile of our server while the N open, summarised
 *   --driver-profile a V8 CPU profile of this driver (the clients) while the N open, summarised
 *   --trips          counts our server's PostgreSQL queries and Redis commands (by
 *                    command) while the N open and while they close, per connection
 *
 * - Ours: each client is the SDK's `createClient` (createWSClient with `ws`, superjson,
 *   its keep-alive), subscribing to `messages.onEvent` for its room; it counts as
 *   subscribed at `onStarted` (the server's `started`). 50 users, 20 sockets each (the
 *   per-user cap, limits.wsConnectionsPerUser), members of the community and their rooms.
 * - Bare ws: a `ws` WebSocketServer; a client sends `{ token }`, then `{ id, room }`; the
 *   server checks the token (an in-memory map of the same tokens), adds the socket to the
 *   room's Set (one Redis SUBSCRIBE per room, as ours has one bus subscription per room)
 *   and answers `{ id, started: true }`. Clients are plain `ws` clients.
 * - Each round starts both servers afresh (each in its own child process, `--expose-gc`,
 *   pinned to CPU 0; this driver on CPU 1), warms each up with 20 connections of a user
 *   of its own (opened and closed), then opens the N connections, `--concurrency` at a
 *   time. The servers take turns inside a round (the first one alternates by round).
 * - Per server and round: time from the first connect to the last subscription started;
 *   p50/p99 of one connection's connect → started; the server's CPU (all threads,
 *   /proc schedstat) per connection while opening; then, after a forced GC in the server
 *   (three `gc()` calls), the growth per connection of RSS and of the V8 heap
 *   (heapUsed + external + arrayBuffers) against before the N opened; and again after
 *   they closed and the server settled (what was not given back): once the server counts
 *   no socket, the heap is read every 250 ms until two readings in a row differ by less
 *   than 0.1 kB per connection (at most 10 s), for both servers alike, so work still
 *   running for the closed sockets (presence updates) is not counted as kept.
 *
 * Needs PostgreSQL (BENCH_PG_URL, an admin connection: a fresh database is created and
 * dropped) and Redis (BENCH_REDIS_URL; keys under a random prefix, deleted at the end).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { Redis } from 'ioredis';
import WS, { WebSocketServer } from 'ws';
import { createClient, closeClient, type GuildhallClient } from '../sdk/src/index.js';
import { adminQuery, cleanRedis, inBatches, median, post, procStats, sleep, withTimeout } from './fanout.js';
import { formatSummary, summarise, type CpuProfile } from './cpuprofile-summary.js';

const SELF = fileURLToPath(import.meta.url);
const BENCH_DIR = path.dirname(SELF);
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Our server caps WebSocket connections per user (limits.wsConnectionsPerUser). */
const SOCKETS_PER_USER = 20;
const WARMUP_CONNECTIONS = 20;

type Kind = 'ours' | 'ws';
const LABEL: Record<Kind, string> = { ours: 'ours (SDK client)', ws: 'bare ws' };

interface Mem {
  rss: number;
  heap: number;
  heapUsed: number;
  sockets: number;
}
/** Round trips counted in our server (--trips): PostgreSQL queries, and Redis commands by name. */
type Trips = Record<string, number>;
type ToChild =
  | { type: 'mem'; id: number }
  | { type: 'snapshot'; id: number; file: string }
  | { type: 'profile'; id: number; file?: string }
  | { type: 'trips'; id: number }
  | { type: 'stop' };
type FromChild =
  | { type: 'ready'; url: string }
  | ({ type: 'mem'; id: number } & Mem)
  | { type: 'snapshot'; id: number }
  | { type: 'profile'; id: number }
  | { type: 'trips'; id: number; trips: Trips };

/** Counts every PostgreSQL query and Redis command of this process from now on (the server child, --trips). */
async function countTrips(prefix: string): Promise<Trips> {
  const trips: Trips = {};
  const pg = (await import('pg')).default;
  const clientQuery = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    trips['pg query'] = (trips['pg query'] ?? 0) + 1;
    return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof clientQuery;
  const sendCommand = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof sendCommand>) {
    // By command, and for a key of ours by its kind (`session:…`, `perm:…`).
    const key = String(args[0].args[0] ?? '');
    const kind = key.startsWith(prefix) ? key.slice(prefix.length).split(':')[0] : '';
    const name = `redis ${args[0].name}${kind ? ` ${kind}:` : ''}`;
    trips[name] = (trips[name] ?? 0) + 1;
    return sendCommand.apply(this, args);
  };
  return trips;
}

// ---------------------------------------------------------------------------------------
// Servers (child processes)

async function serverMain(kind: Kind): Promise<void> {
  const prefix = process.env.CONN_PREFIX!;
  let url: string;
  let sockets: () => number;
  const trips = process.env.CONN_TRIPS ? await countTrips(prefix) : {};
  if (kind === 'ours') {
    const { createServer } = await import('../src/server.js');
    const { loadConfig } = await import('../src/config.js');
    const server = await createServer({
      ...loadConfig({}),
      port: 0,
      host: '127.0.0.1',
      databaseUrl: process.env.CONN_DATABASE_URL,
      redisUrl: REDIS_URL,
      redisPrefix: prefix,
      logLevel: 'warn',
    });
    url = server.url;
    sockets = () => [...server.wsClients()].length;
  } else {
    const tokens = new Map<string, string>(JSON.parse(process.env.CONN_TOKENS ?? '[]') as [string, string][]);
    const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });
    const sub = new Redis(REDIS_URL);
    const rooms = new Map<string, Set<WS>>();
    sub.on('message', (channel: string, message: string) => {
      const set = rooms.get(channel.slice(prefix.length + 'scope:'.length));
      if (set) for (const s of set) s.send(message);
    });
    wss.on('connection', (socket) => {
      let userId: string | null = null;
      let room: Set<WS> | null = null;
      socket.on('message', async (raw) => {
        let m: { token?: string; id?: number; room?: string };
        try {
          m = JSON.parse(String(raw)) as typeof m;
        } catch {
          return socket.close(4400, 'bad json');
        }
        if (userId === null) {
          userId = (typeof m.token === 'string' && tokens.get(m.token)) || null;
          if (!userId) socket.close(4401, 'unauthorized');
          return;
        }
        if (typeof m.room !== 'string' || room) return socket.send(JSON.stringify({ id: m.id, error: 'bad subscribe' }));
        let set = rooms.get(m.room);
        if (!set) {
          rooms.set(m.room, (set = new Set()));
          await sub.subscribe(`${prefix}scope:${m.room}`);
        }
        room = set;
        set.add(socket);
        socket.send(JSON.stringify({ id: m.id, started: true }));
      });
      socket.on('close', () => room?.delete(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    sockets = () => wss.clients.size;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the server child needs --expose-gc');
  let session: import('node:inspector').Session | null = null;
  process.on('message', async (m: ToChild) => {
    if (m.type === 'profile') {
      // Without a file: start profiling; with one: stop and write the profile there.
      if (!m.file) {
        const inspector = await import('node:inspector');
        session = new inspector.Session();
        session.connect();
        await post(session, 'Profiler.enable');
        await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
        await post(session, 'Profiler.start');
      } else if (session) {
        const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
        session.disconnect();
        session = null;
        fs.writeFileSync(m.file, JSON.stringify(profile));
      }
      process.send!({ type: 'profile', id: m.id } satisfies FromChild);
    } else if (m.type === 'trips') {
      process.send!({ type: 'trips', id: m.id, trips: { ...trips } } satisfies FromChild);
    } else if (m.type === 'mem') {
      for (let i = 0; i < 3; i++) gc();
      const u = process.memoryUsage();
      process.send!({ type: 'mem', id: m.id, rss: u.rss, heap: u.heapUsed + u.external + u.arrayBuffers, heapUsed: u.heapUsed, sockets: sockets() } satisfies FromChild);
    } else if (m.type === 'snapshot') {
      gc();
      v8.writeHeapSnapshot(m.file);
      process.send!({ type: 'snapshot', id: m.id } satisfies FromChild);
    } else if (m.type === 'stop') {
      // The process holds nothing that must be flushed: the driver drops the database.
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', url } satisfies FromChild);
}

class ServerChild {
  readonly ready: Promise<string>;
  private nextId = 1;
  private readonly waiting = new Map<number, (m: FromChild) => void>();

  constructor(
    readonly kind: Kind,
    readonly child: ChildProcess,
  ) {
    this.ready = new Promise((resolve, reject) => {
      child.on('message', (m: FromChild) => {
        if (m.type === 'ready') resolve(m.url);
        else {
          this.waiting.get(m.id)?.(m);
          this.waiting.delete(m.id);
        }
      });
      child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    });
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(`  [${kind} server] ${d}`));
  }

  private ask<T extends FromChild>(m: { type: 'mem' | 'snapshot' | 'profile' | 'trips' }): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (m: FromChild) => void);
      this.child.send({ ...m, id } as ToChild);
    });
  }

  mem(): Promise<Mem> {
    return this.ask<{ type: 'mem'; id: number } & Mem>({ type: 'mem' });
  }

  async snapshot(file: string): Promise<void> {
    await this.ask({ type: 'snapshot', file } as never);
  }

  /** The round trips counted so far (--trips). */
  async trips(): Promise<Trips> {
    return (await this.ask<{ type: 'trips'; id: number; trips: Trips }>({ type: 'trips' })).trips;
  }

  /**
   * Once the server counts no socket: the heap read every 250 ms until two readings in a
   * row differ by less than `epsilon` bytes (at most `ms`), so work still running for the
   * closed sockets is done.
   */
  async settled(epsilon: number, ms = 10_000): Promise<Mem> {
    let m = await this.socketsAt(0);
    const until = performance.now() + ms;
    for (;;) {
      await sleep(250);
      const next = await this.mem();
      if (Math.abs(next.heap - m.heap) < epsilon || performance.now() > until) return next;
      m = next;
    }
  }

  /** Starts a CPU profile (no file), or stops it and writes it to `file`. */
  async profile(file?: string): Promise<void> {
    await this.ask({ type: 'profile', file } as never);
  }

  /** Waits until the server counts `n` open sockets (or gives up after `ms`). */
  async socketsAt(n: number, ms = 60_000): Promise<Mem> {
    const until = performance.now() + ms;
    for (;;) {
      const m = await this.mem();
      if (m.sockets === n) return m;
      if (performance.now() > until) {
        console.log(`  (the ${this.kind} server still counts ${m.sockets} sockets, not ${n}, after ${ms / 1000} s)`);
        return m;
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ type: 'stop' } satisfies ToChild);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

const children = new Set<ChildProcess>();

function spawnServer(kind: Kind, o: Options, env: Record<string, string>): ServerChild {
  let argv = [process.execPath, ...process.execArgv, '--expose-gc', ...o.nodeFlags, SELF];
  if (o.pin) argv = ['taskset', '-c', '0', ...argv];
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { env: { ...process.env, ...env, CONN_ROLE: kind }, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new ServerChild(kind, child);
}

// ---------------------------------------------------------------------------------------
// Clients

/** One open, subscribed connection. */
interface Conn {
  close(): void;
}

interface Setup {
  tokens: string[];
  userIds: string[];
  warmToken: string;
  roomIds: string[];
}

const roomOf = (i: number, o: Options) => Math.floor((i * o.rooms) / o.connections);

/**
 * The client address of connection `i`: one of 100 loopback addresses. The server lets
 * one address hold at most 20 sockets without a session (limits.wsConnectionsPerUser),
 * and a socket counts as one from its open until its token is resolved; 100 opening at
 * once from one address would be refused (4429), as they would not be from users'
 * own addresses.
 */
const addressOf = (i: number) => `127.0.0.${2 + (i % 100)}`;

/**
 * The `ws` WebSocket class the SDK clients get: each socket connects from the address in
 * its URL's `from` parameter (the server reads only `connectionParams` of the query). One
 * class for every client, as an application has: a class made per client (as before)
 * gave each socket's `ws` objects their own hidden classes, so every property access in
 * `ws` on the driver went megamorphic, a cost of the bench, not of the SDK.
 */
class WsFromAddress extends WS {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols, { localAddress: new URL(url).searchParams.get('from') ?? undefined });
  }
}

/** Opens one SDK client (from `localAddress`) and subscribes it to `scopeId`; resolves at onStarted. */
async function oursConn(url: string, token: string, scopeId: string, localAddress: string): Promise<Conn> {
  // The SDK takes globalThis.WebSocket when there is one (else `ws`), read once per client.
  // Set, never deleted: deleting a global each time would change the global object's
  // property cells under every client's feet (the bare ws clients do not read it).
  (globalThis as { WebSocket?: unknown }).WebSocket = WsFromAddress;
  const client: GuildhallClient = createClient({ url, token, wsUrl: `${url.replace(/^http/, 'ws')}/trpc?from=${localAddress}` });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.messages.onEvent.subscribe({ scopeId }, { onStarted: () => resolve(), onError: reject });
    }),
    30_000,
    'SDK subscribe',
  );
  return { close: () => closeClient(client) };
}

/** Opens one bare ws client: auth, subscribe, ack. */
async function wsConn(url: string, token: string, room: string, localAddress: string): Promise<Conn> {
  const socket = new WS(url.replace(/^http/, 'ws'), { localAddress });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('close', (code) => reject(new Error(`closed ${code}`)));
      socket.once('open', () => {
        socket.send(JSON.stringify({ token }));
        socket.send(JSON.stringify({ id: 1, room }));
      });
      socket.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { started?: boolean; error?: string };
        if (m.started) resolve();
        else if (m.error) reject(new Error(m.error));
      });
    }),
    30_000,
    'ws subscribe',
  );
  return { close: () => socket.terminate() };
}

/** Opens `n` connections, at most `concurrency` in flight; returns them with each one's connect → started time (ms). */
async function openMany(n: number, concurrency: number, open: (i: number) => Promise<Conn>): Promise<{ conns: Conn[]; lat: number[] }> {
  const conns: Conn[] = [];
  const lat: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      conns[i] = await open(i);
      lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return { conns, lat };
}

// ---------------------------------------------------------------------------------------
// Driver

interface Options {
  connections: number;
  rooms: number;
  rounds: number;
  concurrency: number;
  servers: Kind[];
  pin: boolean;
  nodeFlags: string[];
  heapSnapshot: boolean;
  profile: boolean;
  driverProfile: boolean;
  trips: boolean;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '1000' },
      rooms: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '100' },
      servers: { type: 'string', default: 'ws,ours' },
      'no-pin': { type: 'boolean', default: false },
      'node-flags': { type: 'string', default: '' },
      'heap-snapshot': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'driver-profile': { type: 'boolean', default: false },
      trips: { type: 'boolean', default: false },
    },
  });
  const num = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${v}`);
    return n;
  };
  return {
    connections: num('connections', values.connections, 1, 10_000),
    rooms: num('rooms', values.rooms, 1, 100),
    rounds: num('rounds', values.rounds, 1, 20),
    concurrency: num('concurrency', values.concurrency, 1, 10_000),
    servers: values.servers.split(',').map((s) => {
      if (s !== 'ours' && s !== 'ws') throw new Error(`--servers: unknown server ${s} (ws, ours)`);
      return s;
    }),
    pin: !values['no-pin'],
    nodeFlags: values['node-flags'].split(' ').filter(Boolean),
    heapSnapshot: values['heap-snapshot'],
    profile: values.profile,
    driverProfile: values['driver-profile'],
    trips: values.trips,
  };
}

interface RoundResult {
  kind: Kind;
  seconds: number;
  p50: number;
  p99: number;
  cpuMsPerConn: number;
  driverCpuMsPerConn: number;
  rssKbPerConn: number;
  heapKbPerConn: number;
  heapKbLeftPerConn: number;
}

/** Signs up the users on a setup instance of our server, with a community, rooms and memberships. */
async function prepare(url: string, o: Options): Promise<Setup> {
  const users = Math.ceil(o.connections / SOCKETS_PER_USER);
  const anon = createClient({ url });
  const tag = randomBytes(3).toString('hex');
  const signed: { token: string; userId: string }[] = [];
  await inBatches(users + 1, 10, async (i) => {
    const r = await anon.auth.signUp.mutate({ email: `conn-${tag}-${i}@example.com`, password: 'correct horse battery', displayName: `conn ${i}` });
    signed[i] = { token: r.token, userId: r.user.id };
  });
  const tokens = signed.slice(0, users).map((s) => s.token);
  const owner = createClient({ url, token: tokens[0] });
  const community = await owner.scopes.create.mutate({ kind: 'community', name: 'Connections' });
  const roomIds: string[] = [];
  for (let r = 0; r < o.rooms; r++) roomIds.push((await owner.scopes.create.mutate({ kind: 'room', parentId: community.id, name: `room-${r}` })).id);
  const warm = createClient({ url, token: signed[users]!.token });
  await warm.members.join.mutate({ scopeId: community.id });
  await warm.members.join.mutate({ scopeId: roomIds[0]! });
  await inBatches(users, 10, async (u) => {
    if (u === 0) return;
    const client = createClient({ url, token: tokens[u] });
    await client.members.join.mutate({ scopeId: community.id });
    const rooms = new Set<number>();
    for (let i = u * SOCKETS_PER_USER; i < Math.min(o.connections, (u + 1) * SOCKETS_PER_USER); i++) rooms.add(roomOf(i, o));
    for (const r of rooms) await client.members.join.mutate({ scopeId: roomIds[r]! });
  });
  return { tokens, userIds: signed.slice(0, users).map((s) => s.userId), warmToken: signed[users]!.token, roomIds };
}

/** Starts a CPU profile of this process (--driver-profile); stop it with `Profiler.stop` on the session returned. */
async function startDriverProfile(): Promise<import('node:inspector').Session> {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
  await post(session, 'Profiler.start');
  return session;
}

async function measure(kind: Kind, o: Options, setup: Setup, env: Record<string, string>, round: number): Promise<RoundResult> {
  const child = spawnServer(kind, o, env);
  try {
    const url = await withTimeout(child.ready, 120_000, `${kind} server start`);
    const open = (token: string, room: string, i: number) => (kind === 'ours' ? oursConn : wsConn)(url, token, room, addressOf(i));
    // Warm-up: a user of its own (so the measured users' sessions are not cached by it), one room.
    const warm = await openMany(WARMUP_CONNECTIONS, WARMUP_CONNECTIONS, (i) => open(setup.warmToken, setup.roomIds[0]!, i));
    for (const c of warm.conns) c.close();
    const before = await child.socketsAt(0);
    const snapshot = async (when: string) => {
      if (!o.heapSnapshot || kind !== 'ours') return;
      const file = path.join(BENCH_DIR, 'profiles', `connections-${kind}-${when}-${new Date().toISOString().replace(/[:.]/g, '-')}.heapsnapshot`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await child.snapshot(file);
      console.log(`  heap snapshot ${when}: ${path.relative(process.cwd(), file)}`);
    };
    await snapshot('before');
    if (o.profile && kind === 'ours') await child.profile();
    const driverSession = o.driverProfile ? await startDriverProfile() : null;
    const trips0 = o.trips ? await child.trips() : {};
    const srv0 = procStats(child.child.pid!);
    const drv0 = procStats(process.pid);
    const t0 = performance.now();
    const { conns, lat } = await openMany(o.connections, o.concurrency, (i) => open(setup.tokens[Math.floor(i / SOCKETS_PER_USER)]!, setup.roomIds[roomOf(i, o)]!, i));
    const seconds = (performance.now() - t0) / 1000;
    const srv1 = procStats(child.child.pid!);
    const drv1 = procStats(process.pid);
    const trips1 = o.trips ? await child.trips() : {};
    if (driverSession) {
      const { profile } = (await post(driverSession, 'Profiler.stop')) as { profile: CpuProfile };
      driverSession.disconnect();
      const file = path.join(BENCH_DIR, 'profiles', `connections-driver-${kind}-open-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(profile));
      console.log(`  CPU profile of the driver (${LABEL[kind]} clients) while the ${o.connections} opened: ${path.relative(process.cwd(), file)}`);
      console.log(formatSummary(summarise(profile, 25)).replace(/^/gm, '    '));
    }
    if (o.profile && kind === 'ours') {
      const file = path.join(BENCH_DIR, 'profiles', `connections-${kind}-open-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await child.profile(file);
      console.log(`  CPU profile of our server while the ${o.connections} opened: ${path.relative(process.cwd(), file)}`);
      console.log(formatSummary(summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, 25)).replace(/^/gm, '    '));
    }
    await sleep(1_000); // let replies and timers settle before the GC
    const during = await child.socketsAt(o.connections);
    await snapshot(`with-${o.connections}`);
    for (const c of conns) c.close();
    const after = await child.settled(0.1 * 1024 * o.connections);
    await snapshot('after-close');
    if (o.trips && kind === 'ours') {
      const trips2 = await child.trips();
      console.log(`  queries and commands per connection of our server while the ${o.connections} opened | while they closed:`);
      for (const name of [...new Set([...Object.keys(trips1), ...Object.keys(trips2)])].sort()) {
        const opening = ((trips1[name] ?? 0) - (trips0[name] ?? 0)) / o.connections;
        const closing = ((trips2[name] ?? 0) - (trips1[name] ?? 0)) / o.connections;
        if (opening > 0 || closing > 0) console.log(`    ${name.padEnd(28)} ${opening.toFixed(2).padStart(6)} | ${closing.toFixed(2).padStart(6)}`);
      }
    }
    lat.sort((a, b) => a - b);
    const n = o.connections;
    const r: RoundResult = {
      kind,
      seconds,
      p50: lat[Math.floor(lat.length * 0.5)]!,
      p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]!,
      cpuMsPerConn: (srv1.runNs - srv0.runNs) / 1e6 / n,
      driverCpuMsPerConn: (drv1.runNs - drv0.runNs) / 1e6 / n,
      rssKbPerConn: (during.rss - before.rss) / 1024 / n,
      heapKbPerConn: (during.heap - before.heap) / 1024 / n,
      heapKbLeftPerConn: (after.heap - before.heap) / 1024 / n,
    };
    console.log(fmtRow(`${LABEL[kind]} (round ${round})`, r));
    return r;
  } finally {
    await child.stop();
  }
}

const HEADER =
  '  server                       all subscribed s   p50 ms   p99 ms   server CPU ms/conn   driver CPU ms/conn   RSS kB/conn   heap kB/conn   heap kB/conn left after close';
const fmtRow = (label: string, r: RoundResult) =>
  `  ${label.padEnd(28)} ${r.seconds.toFixed(2).padStart(16)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ` +
  `${r.cpuMsPerConn.toFixed(2).padStart(20)} ${r.driverCpuMsPerConn.toFixed(2).padStart(20)} ${r.rssKbPerConn.toFixed(1).padStart(13)} ` +
  `${r.heapKbPerConn.toFixed(1).padStart(14)} ${r.heapKbLeftPerConn.toFixed(1).padStart(14)}`;

async function driverMain(): Promise<void> {
  const o = readOptions();
  const cpus = os.availableParallelism();
  if (o.pin && cpus >= 2) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  else o.pin = false;
  console.log(
    `connections bench: ${cpus} CPUs, node ${process.version}, ${o.pin ? 'servers on CPU 0, clients on CPU 1' : 'unpinned'}; ` +
      `${o.connections} connections in ${o.rooms} rooms, ${o.concurrency} opening at a time, ${o.rounds} rounds`,
  );
  console.log(`loadavg before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dbName = `gh_bench_conn_${randomBytes(5).toString('hex')}`;
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  const cleanup = async () => {
    for (const c of children) c.kill('SIGKILL');
    await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) => console.error(`could not drop ${dbName}: ${err}`));
    await cleanRedis(prefix).catch(() => {});
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const results: RoundResult[] = [];
  try {
    const env = { CONN_PREFIX: prefix, CONN_DATABASE_URL: databaseUrl, ...(o.trips ? { CONN_TRIPS: '1' } : {}) };
    const setupServer = spawnServer('ours', o, env);
    let setup: Setup;
    try {
      setup = await prepare(await withTimeout(setupServer.ready, 120_000, 'server start'), o);
    } finally {
      await setupServer.stop();
    }
    const tokenMap = JSON.stringify([...setup.tokens, setup.warmToken].map((t, i) => [t, setup.userIds[i] ?? 'warm']));
    console.log(`\n${HEADER}`);
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 === 1 ? o.servers : [...o.servers].reverse();
      for (const kind of order) results.push(await measure(kind, o, setup, { ...env, CONN_TOKENS: tokenMap }, round));
    }
  } finally {
    await cleanup();
  }
  const med = (kind: Kind, f: (r: RoundResult) => number) => median(results.filter((r) => r.kind === kind).map(f));
  console.log(`\n== medians over ${o.rounds} rounds`);
  console.log(HEADER);
  const m: Partial<Record<Kind, RoundResult>> = {};
  for (const kind of o.servers) {
    m[kind] = {
      kind,
      seconds: med(kind, (r) => r.seconds),
      p50: med(kind, (r) => r.p50),
      p99: med(kind, (r) => r.p99),
      cpuMsPerConn: med(kind, (r) => r.cpuMsPerConn),
      driverCpuMsPerConn: med(kind, (r) => r.driverCpuMsPerConn),
      rssKbPerConn: med(kind, (r) => r.rssKbPerConn),
      heapKbPerConn: med(kind, (r) => r.heapKbPerConn),
      heapKbLeftPerConn: med(kind, (r) => r.heapKbLeftPerConn),
    };
    console.log(fmtRow(LABEL[kind], m[kind]!));
  }
  if (m.ours && m.ws) {
    const ratios = (f: (r: RoundResult) => number) => {
      const per: string[] = [];
      for (let round = 0; round < o.rounds; round++) {
        const a = results.filter((r) => r.kind === 'ours')[round];
        const b = results.filter((r) => r.kind === 'ws')[round];
        if (a && b) per.push((f(a) / f(b)).toFixed(2));
      }
      return `${(f(m.ours!) / f(m.ws!)).toFixed(2)}x (per round ${per.join(', ')})`;
    };
    console.log(`\n  ours / bare ws: time to all subscribed ${ratios((r) => r.seconds)}  [target <= 2x]`);
    console.log(`                  RSS per connection ${ratios((r) => r.rssKbPerConn)}  [target <= 1.5x]`);
    console.log(`                  heap per connection ${ratios((r) => r.heapKbPerConn)}`);
    console.log(`                  server CPU per connection ${ratios((r) => r.cpuMsPerConn)}`);
  }
  console.log(`loadavg after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

const role = process.env.CONN_ROLE;
if (role === 'ours' || role === 'ws') await serverMain(role);
else
  await driverMain().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
