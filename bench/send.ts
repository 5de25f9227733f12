/**
 * Send-path benchmark: the real `messages.send` (tRPC over WebSocket, PostgreSQL, Redis)
 * against a minimal ws + pg + ioredis server that validates, inserts under the same seq
 * trigger (the same database, so the same triggers), and publishes.
 *
 *   npm run bench:send [-- --seconds 8 --senders 32 --rounds 1 --small-senders 8]
 *   npm run bench:send -- --embedded [--seconds 8 --senders 32 --rounds 1]
 *
 * Steps, each a closed loop (every sender waits for its answer before the next send):
 * - baseline and ours with `--senders` senders in one room, then in eight rooms;
 * - ours with `--small-senders` senders in a room of 10 members and in one of 5,000.
 * Each server runs in its own child process; the steps run back to back in each round,
 * so each ratio compares figures taken seconds apart on the same host. Server CPU per
 * message is read from /proc of the server process. Needs PostgreSQL (BENCH_PG_URL, an
 * admin connection: a fresh database is created and dropped) and Redis (BENCH_REDIS_URL;
 * keys under a random prefix).
 *
 * `--embedded`: our server as `npm start` runs it with no variables (PGlite, the bus,
 * cache and presence in process), its data in a fresh directory under ./data/ (deleted
 * at the end), with the same senders in one room and in eight rooms, reporting msgs/s,
 * p50, p99, server CPU per message and the server's RSS (VmRSS after the step, VmHWM
 * peak). The message rate limit is raised as for the other steps. No baseline: it needs
 * neither PostgreSQL nor Redis.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import WS, { WebSocketServer } from 'ws';
import superjson from 'superjson';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import type { AppRouter } from '../src/router.js';
import { createClient } from '../sdk/src/index.js';
import { freshRun } from './services.js';
import { pct, runMain, serveChild, spawnRole, type ServerChild } from './children.js';

const SELF = fileURLToPath(import.meta.url);
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BIG_ROOM = 5_000;
const SMALL_ROOM = 10;

type Kind = 'ours' | 'baseline' | 'embedded';

// ------------------------------------------------------------------ server children

async function serverMain(kind: Kind): Promise<void> {
  const databaseUrl = process.env.SEND_DATABASE_URL!;
  const prefix = process.env.SEND_PREFIX!;
  let url: string;
  let stop: () => Promise<void>;
  if (kind === 'embedded') {
    const { createServer } = await import('../src/server.js');
    const { loadConfig } = await import('../src/config.js');
    // No DATABASE_URL, no REDIS_URL: PGlite under DATA_DIR, everything else in process.
    const server = await createServer({
      ...loadConfig({ DATA_DIR: process.env.SEND_DATA_DIR!, MESSAGE_SEND_RATE: '1000000/1', LOG_LEVEL: 'warn' }),
      port: 0,
      host: '127.0.0.1',
    });
    url = server.url;
    stop = () => server.close(200);
  } else if (kind === 'ours') {
    const { createServer } = await import('../src/server.js');
    const { loadConfig } = await import('../src/config.js');
    // The rate limiter stays on (its round trip is part of the path), with a limit the bench does not reach.
    const server = await createServer({
      ...loadConfig({ MESSAGE_SEND_RATE: '1000000/1' }),
      port: 0,
      host: '127.0.0.1',
      databaseUrl,
      redisUrl: REDIS_URL,
      redisPrefix: prefix,
      logLevel: 'warn',
    });
    url = server.url;
    stop = () => server.close(200);
  } else {
    // The minimal server: one socket per sender (authenticated once by its user id), each
    // frame validated, inserted (scope_events then messages, in one transaction: the seq
    // trigger and every messages trigger run as for ours), published, answered.
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    const redis = new Redis(REDIS_URL);
    const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server: httpServer, maxPayload: 64 * 1024 });
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    wss.on('connection', (socket, req) => {
      const userId = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
      socket.on('message', async (data) => {
        let call: { id: number; scopeId: string; body: string; nonce: string };
        try {
          call = JSON.parse(String(data));
        } catch {
          return socket.send(JSON.stringify({ error: 'bad json' }));
        }
        if (!UUID.test(call.scopeId) || typeof call.body !== 'string' || call.body.trim() === '' || call.body.length > 4000) {
          return socket.send(JSON.stringify({ id: call.id, error: 'invalid' }));
        }
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const id = randomUUID();
          const ev = await client.query(
            `insert into scope_events (scope_id, seq, type, actor_id, message_id) values ($1, 0, 'message.created', $2, $3) returning seq, created_at`,
            [call.scopeId, userId, id],
          );
          const seq = ev.rows[0].seq;
          await client.query(`insert into messages (id, scope_id, seq, author_id, body, nonce) values ($1, $2, $3, $4, $5, $6)`, [
            id,
            call.scopeId,
            seq,
            userId,
            call.body,
            call.nonce,
          ]);
          await client.query('COMMIT');
          const event = JSON.stringify({ type: 'message.created', seq: Number(seq), scopeId: call.scopeId, message: { id, authorId: userId, body: call.body } });
          await redis.publish(`${prefix}scope:${call.scopeId}`, event);
          socket.send(JSON.stringify({ id: call.id, seq: Number(seq) }));
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          socket.send(JSON.stringify({ id: call.id, error: String(err) }));
        } finally {
          client.release();
        }
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    stop = async () => {
      for (const s of wss.clients) s.terminate();
      await new Promise<void>((r) => httpServer.close(() => r()));
      await pool.end();
      redis.disconnect();
    };
  }
  serveChild(url, stop);
}

// ------------------------------------------------------------------ senders

/** One sender: `send(scopeId, body)` resolves when the server answered. */
interface Sender {
  send(scopeId: string, body: string): Promise<void>;
  close(): void;
}

async function baselineSender(url: string, userId: string): Promise<Sender> {
  const ws = new WS(`${url.replace(/^http/, 'ws')}/?user=${userId}`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const waiting = new Map<number, (err?: string) => void>();
  let next = 0;
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as { id: number; error?: string };
    waiting.get(m.id)?.(m.error);
    waiting.delete(m.id);
  });
  return {
    send: (scopeId, body) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, (err) => (err ? reject(new Error(err)) : resolve()));
        ws.send(JSON.stringify({ id, scopeId, body, nonce: randomUUID() }));
      }),
    close: () => ws.close(),
  };
}

async function oursSender(url: string, token: string): Promise<Sender> {
  const wsClient = createWSClient({ url: `${url.replace(/^http/, 'ws')}/trpc`, WebSocket: WS as never, connectionParams: () => ({ token }) });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
  return {
    send: async (scopeId, body) => {
      await client.messages.send.mutate({ scopeId, body, nonce: randomUUID() });
    },
    close: () => wsClient.close(),
  };
}

interface StepResult {
  label: string;
  sent: number;
  errors: number;
  perSec: number;
  p50: number;
  p99: number;
  cpuPerMsg: number;
}

/** Runs `senders` closed loops for `seconds` (after `warmup` s not counted); sender i writes to rooms[i % rooms.length]. */
async function step(label: string, server: ServerChild, senders: Sender[], rooms: string[], seconds: number, warmup: number): Promise<StepResult> {
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const loops = senders.map(async (s, i) => {
    let k = 0;
    while (!stop) {
      const t0 = performance.now();
      try {
        await s.send(rooms[i % rooms.length]!, `bench message ${k++} from sender ${i}: ${'x'.repeat(160)}`);
        if (measuring) lat.push(performance.now() - t0);
      } catch (err) {
        if (measuring) errors++;
        if (errors === 1) console.error(`${label}: ${String(err)}`);
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const cpu0 = server.cpuMs();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = server.cpuMs() - cpu0;
  stop = true;
  await Promise.all(loops);
  lat.sort((a, b) => a - b);
  return { label, sent: lat.length, errors, perSec: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), cpuPerMsg: cpu / Math.max(1, lat.length) };
}

const fmt = (r: StepResult) =>
  `${r.label.padEnd(34)} ${r.perSec.toFixed(0).padStart(6)} msgs/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ` +
  `server CPU ${r.cpuPerMsg.toFixed(2)} ms/msg  (${r.sent} sent, ${r.errors} errors)`;
const ratio = (name: string, ours: StepResult, base: StepResult) =>
  `  ${name}: throughput ${(ours.perSec / base.perSec).toFixed(2)}x, p50 ${(ours.p50 / base.p50).toFixed(2)}x, p99 ${(ours.p99 / base.p99).toFixed(2)}x, server CPU/msg ${(ours.cpuPerMsg / base.cpuPerMsg).toFixed(2)}x`;

// ------------------------------------------------------------------ driver

/** `n` users signed up on `url`, a community with eight rooms, every user a member of all. */
async function usersAndRooms(url: string, n: number) {
  const users: { token: string; userId: string; client: ReturnType<typeof createClient> }[] = [];
  for (let i = 0; i < n; i++) {
    const anon = createClient({ url });
    const { token, user } = await anon.auth.signUp.mutate({ email: `sender${i}-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: `sender ${i}` });
    users.push({ token, userId: user.id, client: createClient({ url, token }) });
  }
  const owner = users[0]!.client;
  const community = await owner.scopes.create.mutate({ kind: 'community', name: 'Bench' });
  const rooms: string[] = [];
  for (let i = 0; i < 8; i++) rooms.push((await owner.scopes.create.mutate({ kind: 'room', parentId: community.id, name: `room ${i}` })).id);
  for (const u of users.slice(1)) await u.client.members.join.mutate({ scopeId: community.id });
  for (const u of users.slice(1)) for (const r of rooms) await u.client.members.join.mutate({ scopeId: r });
  return { users, community, rooms };
}

/** `--embedded`: our server with no variables (PGlite, in-process bus and cache), one room and eight rooms. */
async function embeddedMain(o: { seconds: number; warmup: number; senders: number; rounds: number }): Promise<void> {
  const dataDir = path.join('data', `bench-send-${randomBytes(4).toString('hex')}`);
  const server = spawnRole(SELF, 'embedded', { SEND_DATA_DIR: dataDir }, 'SEND_ROLE', 'SEND_NODE_FLAGS');
  try {
    const url = await server.ready;
    console.log(`embedded server (PGlite in ${dataDir}, in-process bus and cache) at ${url}; RSS at start ${server.rssMb().now.toFixed(0)} MB`);
    const { users, rooms } = await usersAndRooms(url, o.senders);
    const senders = await Promise.all(users.map((u) => oursSender(url, u.token)));
    console.log(`${o.senders} senders in a closed loop, ${o.seconds} s per step after ${o.warmup} s warm-up, node ${process.version}, loadavg ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (let round = 1; round <= o.rounds; round++) {
      console.log(`\nround ${round}`);
      for (const [label, targets] of [['embedded, one room', [rooms[0]!]], ['embedded, eight rooms', rooms]] as const) {
        const r = await step(label, server, senders, [...targets], o.seconds, o.warmup);
        const rss = server.rssMb();
        console.log(`${fmt(r)}  RSS ${rss.now.toFixed(0)} MB (peak ${rss.peak.toFixed(0)} MB)`);
      }
    }
    for (const s of senders) s.close();
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      senders: { type: 'string', default: '32' },
      'small-senders': { type: 'string', default: '8' },
      rounds: { type: 'string', default: '1' },
      only: { type: 'string', default: 'rooms,members' },
      embedded: { type: 'boolean', default: false },
    },
  });
  if (values.embedded) {
    return embeddedMain({ seconds: Number(values.seconds), warmup: Number(values.warmup), senders: Number(values.senders), rounds: Number(values.rounds) });
  }
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const nSenders = Number(values.senders);
  const nSmall = Number(values['small-senders']);
  const only = new Set(values.only!.split(','));
  const { databaseUrl, prefix, children, cleanup } = await freshRun('send', PG_ADMIN_URL, REDIS_URL);
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const env = { SEND_DATABASE_URL: databaseUrl, SEND_PREFIX: prefix };
    const ours = spawnRole(SELF, 'ours', env, 'SEND_ROLE', 'SEND_NODE_FLAGS');
    const base = spawnRole(SELF, 'baseline', env, 'SEND_ROLE', 'SEND_NODE_FLAGS');
    children.push(ours, base);
    const [oursUrl, baseUrl] = await Promise.all([ours.ready, base.ready]);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });

    // Users, a community with eight rooms (all senders in all), a small and a big room.
    const { users, community, rooms } = await usersAndRooms(oursUrl, Math.max(nSenders, nSmall));
    const owner = users[0]!.client;
    const small = (await owner.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'small' })).id;
    const big = (await owner.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'big' })).id;
    for (const u of users.slice(1, nSmall)) for (const r of [small, big]) await u.client.members.join.mutate({ scopeId: r });
    // Fill: the small room to 10 members, the big one to 5,000 (users written with SQL).
    const fill = async (scopeId: string, n: number) => {
      const ids = Array.from({ length: n }, () => randomUUID());
      await pool.query(`insert into users (id, email, display_name, password_hash) select id, id::text || '@example.com', 'm', 'x' from unnest($1::uuid[]) id`, [ids]);
      await pool.query(`insert into memberships (scope_id, user_id) select $1, id from unnest($2::uuid[]) id`, [community.id, ids]);
      await pool.query(`insert into memberships (scope_id, user_id) select $1, id from unnest($2::uuid[]) id`, [scopeId, ids]);
    };
    await fill(small, SMALL_ROOM - nSmall);
    await fill(big, BIG_ROOM - nSmall);
    const count = async (s: string) => (await pool.query(`select count(*)::int as n from memberships where scope_id = $1`, [s])).rows[0].n;
    console.log(`rooms: 8 of ${await count(rooms[0]!)} members, small ${await count(small)}, big ${await count(big)}`);
    await pool.end();

    const senderUsers = users.slice(0, nSenders);
    const oursSenders = await Promise.all(senderUsers.map((u) => oursSender(oursUrl, u.token)));
    const baseSenders = await Promise.all(senderUsers.map((u) => baselineSender(baseUrl, u.userId)));
    const smallSenders = oursSenders.slice(0, nSmall);
    console.log(`${nSenders} senders in a closed loop, ${seconds} s per step after ${warmup} s warm-up, node ${process.version}`);
    for (let round = 1; round <= Number(values.rounds); round++) {
      console.log(`\nround ${round}`);
      const out: string[] = [];
      if (only.has('rooms')) {
        const b1 = await step('baseline, one room', base, baseSenders, [rooms[0]!], seconds, warmup);
        console.log(fmt(b1));
        const o1 = await step('ours, one room', ours, oursSenders, [rooms[0]!], seconds, warmup);
        console.log(fmt(o1));
        const b8 = await step('baseline, eight rooms', base, baseSenders, rooms, seconds, warmup);
        console.log(fmt(b8));
        const o8 = await step('ours, eight rooms', ours, oursSenders, rooms, seconds, warmup);
        console.log(fmt(o8));
        out.push(ratio('one room, ours / baseline', o1, b1), ratio('eight rooms, ours / baseline', o8, b8));
      }
      if (only.has('members')) {
        const s = await step(`ours, ${nSmall} senders, ${SMALL_ROOM} members`, ours, smallSenders, [small], seconds, warmup);
        console.log(fmt(s));
        const b = await step(`ours, ${nSmall} senders, ${BIG_ROOM} members`, ours, smallSenders, [big], seconds, warmup);
        console.log(fmt(b));
        out.push(`  ${BIG_ROOM} members / ${SMALL_ROOM} members: throughput ${(b.perSec / s.perSec).toFixed(2)}x, p50 ${(b.p50 / s.p50).toFixed(2)}x, p99 ${(b.p99 / s.p99).toFixed(2)}x`);
      }
      console.log(out.join('\n'));
    }
    for (const s of [...oursSenders, ...baseSenders]) s.close();
  } finally {
    await cleanup();
  }
}

const role = process.env.SEND_ROLE as Kind | undefined;
if (role) void serverMain(role);
else runMain(main);
