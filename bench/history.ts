/**
 * History-page benchmark: `messages.list` (keyset, 50 per page) through the real server as
 * users deploy it (`src/main.ts`: PostgreSQL, Redis, tRPC over HTTP, the SDK as client)
 * against a minimal node:http + pg server running the same keyset SQL on the same table.
 *
 *   npm run bench:history [-- --messages 10000000 --concurrency 16 --seconds 8 --warmup 2 --rounds 3 --limit 50]
 *   npm run bench:history -- --rounds 0     # only load the table (the first run does it anyway)
 *
 * - The table: `--messages` messages in one room of the database `guildhall_bench_history`
 *   (BENCH_HISTORY_DB), created if missing, migrated with the real migrations, loaded once
 *   with generate_series (bench/history-load.ts) and kept for later runs; each size has its
 *   own room, so a run with `--messages 1000000` loads (once) and reads a room of 1,000,000.
 * - Both servers run at once, each in its own process, with a pool of 10 connections. Each
 *   step is a closed loop of `--concurrency` readers (each waits for its page before asking
 *   for the next), each asking for the page before a random seq of the room
 *   (`beforeSeq`, uniform over the loaded messages). Ours: one SDK client per reader (HTTP,
 *   superjson), a member of the room with a real session. Baseline: `fetch` of
 *   `GET /messages?scopeId=…&beforeSeq=…&limit=…`, one parameterised query (the keyset page,
 *   `limit + 1` rows for "is there more"), `JSON.stringify` of the rows.
 * - Rounds alternate which server goes first; each step reports pages/s, p50 and p99 (ms),
 *   server CPU per page (ms, /proc of the server process) and the CPU of the server's
 *   PostgreSQL backends per page (ms, by application_name), and this process's own CPU per page
 *   (the readers: driver CPU, ms). The last lines give the
 *   medians of the per-round ratios against the targets (p99 ≤ 1.3×, throughput ≥ 0.75×).
 *
 * BENCH_PG_URL: an admin connection (default postgres://postgres@127.0.0.1:5432/postgres);
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379; keys under a random prefix, deleted at
 * the end). HISTORY_NODE_FLAGS passes node flags (e.g. `--cpu-prof`) to our server.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createClient, type GuildhallClient } from '../sdk/src/index.js';
import { deleteRedisKeys, migrateDatabase } from './services.js';
import { pct, runMain, processCpuMs, serveChild, ServerChild, spawnRole } from './children.js';
import { loadHistory, roomState } from './history-load.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = process.env.BENCH_HISTORY_DB ?? 'guildhall_bench_history';
const PASSWORD = 'correct horse battery staple';
const OURS_APP = 'guildhall-history-bench';
const BASE_APP = 'baseline-history-bench';

/** The keyset page of the baseline: what `messages.list` returns before its hydration, without the tsvector. */
const BASELINE_PAGE = `
select id, scope_id, seq, author_id, body, nonce, reply_to_id, thread_root_id, mention_everyone,
       thread_reply_count, created_at, edited_at, deleted_at
  from messages
 where scope_id = $1 and thread_root_id is null and deleted_at is null and seq < $2
 order by seq desc limit $3`;

const dbUrl = (app: string) => {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${DB_NAME}`;
  u.searchParams.set('application_name', app);
  return u.toString();
};

// ------------------------------------------------------------------ the baseline server

async function baselineMain(): Promise<void> {
  const pool = new pg.Pool({ connectionString: dbUrl(BASE_APP), max: 10 });
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopeId = u.searchParams.get('scopeId') ?? '';
    const beforeSeq = Number(u.searchParams.get('beforeSeq'));
    const limit = Number(u.searchParams.get('limit') ?? 50);
    if (u.pathname !== '/messages' || !UUID.test(scopeId) || !Number.isSafeInteger(beforeSeq) || !(limit >= 1 && limit <= 100)) {
      return void res.writeHead(400).end('bad request');
    }
    try {
      // Unnamed: planned with the actual values each time. A named statement's cached generic
      // plan of this SQL guesses LIMIT $3 at 10% of the room and, at 10,000,000 messages,
      // crosses jit_above_cost: a JIT compile on every call (127 ms here), no fair baseline.
      const { rows } = await pool.query(BASELINE_PAGE, [scopeId, beforeSeq, limit + 1]);
      const items = rows.slice(0, limit);
      const body = JSON.stringify({ items, nextBeforeSeq: rows.length > limit ? items.at(-1).seq : null });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serveChild(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await pool.end();
  });
}

/** Our server as `npm start` runs it (src/main.ts), on a free port; ready when /readyz answers 200. */
async function startOurs(prefix: string): Promise<ServerChild> {
  const port = await new Promise<number>((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const child = spawn(process.execPath, [...(process.env.HISTORY_NODE_FLAGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: dbUrl(OURS_APP), REDIS_URL, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const ready = (async () => {
    for (let i = 0; i < 600; i++) {
      const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ok) return url;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('our server did not become ready in 60 s');
  })();
  return new ServerChild('ours', child, ready);
}

// ------------------------------------------------------------------ setup

/** A signed-in user of our server (signed up on the first run). */
async function user(url: string, pool: pg.Pool, name: string): Promise<{ id: string; token: string }> {
  const email = `${name}@history-bench.example.com`;
  const anon = createClient({ url });
  const known = (await pool.query('select 1 from users where email = $1', [email])).rowCount! > 0;
  const r = known
    ? await anon.auth.signIn.mutate({ email, password: PASSWORD })
    : await anon.auth.signUp.mutate({ email, password: PASSWORD, displayName: name });
  return { id: r.user.id, token: r.token };
}

/** The room of `n` messages: made (community and room by the writer, joined by the reader) and loaded on the first run. */
async function room(url: string, pool: pg.Pool, n: number): Promise<{ roomId: string; reader: string; first: number; last: number }> {
  const writer = await user(url, pool, 'writer');
  const reader = await user(url, pool, 'reader');
  const name = `history ${n}`;
  let roomId: string | undefined = (await pool.query(`select id from scopes where kind = 'room' and name = $1 and deleted_at is null`, [name])).rows[0]?.id;
  if (!roomId) {
    const w = createClient({ url, token: writer.token });
    const r = createClient({ url, token: reader.token });
    const community = await w.scopes.create.mutate({ kind: 'community', name: `history bench ${n}` });
    roomId = (await w.scopes.create.mutate({ kind: 'room', parentId: community.id, name })).id;
    await r.members.join.mutate({ scopeId: community.id });
    await r.members.join.mutate({ scopeId: roomId });
  }
  let state = await roomState(pool, roomId);
  if (state.messageTotal === 0) {
    console.log(`loading ${n.toLocaleString('en')} messages into room ${roomId} of ${DB_NAME} (once; kept for later runs)`);
    await loadHistory(pool, { roomId, authorIds: [writer.id, reader.id] }, n, console.log);
    state = await roomState(pool, roomId);
  }
  if (state.messageTotal !== n || state.lastSeq !== state.maxEventSeq) {
    throw new Error(`room ${roomId} is not consistent: message_total ${state.messageTotal} (want ${n}), last_seq ${state.lastSeq}, last event ${state.maxEventSeq}; drop database ${DB_NAME} and run again`);
  }
  const { rows } = await pool.query('select min(seq)::bigint as first, max(seq)::bigint as last from messages where scope_id = $1', [roomId]);
  console.log(`room: ${state.messageTotal.toLocaleString('en')} messages (${state.messageCount.toLocaleString('en')} live), seq ${rows[0].first}..${rows[0].last}, log up to ${state.lastSeq}`);
  return { roomId, reader: reader.token, first: Number(rows[0].first), last: Number(rows[0].last) };
}

// ------------------------------------------------------------------ steps

/** A page reader: `page(beforeSeq)` resolves with the ids of the items it got. */
type Reader = (beforeSeq: number) => Promise<string[]>;

interface StepResult {
  label: string;
  pages: number;
  errors: number;
  perSec: number;
  p50: number;
  p99: number;
  cpuPerPage: number;
  pgCpuPerPage: number;
  /** CPU of this process (the readers: SDK clients or fetch) per page, ms. */
  driverCpuPerPage: number;
}

/** CPU time so far (ms) of the PostgreSQL backends of `app` on the bench database. */
async function backendCpuMs(admin: pg.Client, app: string): Promise<number> {
  const { rows } = await admin.query('select pid from pg_stat_activity where datname = $1 and application_name = $2', [DB_NAME, app]);
  return rows.reduce((sum, r) => sum + processCpuMs(r.pid), 0);
}

async function step(label: string, server: ServerChild, app: string, admin: pg.Client, readers: Reader[], range: { first: number; last: number }, seconds: number, warmup: number): Promise<StepResult> {
  const lat: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const span = range.last - range.first + 1;
  const loops = readers.map(async (read) => {
    while (!stop) {
      const before = range.first + 1 + Math.floor(Math.random() * span);
      const t0 = performance.now();
      try {
        await read(before);
        if (measuring) lat.push(performance.now() - t0);
      } catch (err) {
        if (measuring) errors++;
        if (errors === 1) console.error(`${label}: ${String(err)}`);
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const [cpu0, pg0] = [server.cpuMs(), await backendCpuMs(admin, app)];
  const driver0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const driver = process.cpuUsage(driver0);
  const [cpu, pgCpu] = [server.cpuMs() - cpu0, (await backendCpuMs(admin, app)) - pg0];
  stop = true;
  await Promise.all(loops);
  lat.sort((a, b) => a - b);
  const n = Math.max(1, lat.length);
  return { label, pages: lat.length, errors, perSec: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), cpuPerPage: cpu / n, pgCpuPerPage: pgCpu / n, driverCpuPerPage: (driver.user + driver.system) / 1000 / n };
}

const fmt = (r: StepResult) =>
  `${r.label.padEnd(10)} ${r.perSec.toFixed(0).padStart(6)} pages/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ` +
  `server CPU ${r.cpuPerPage.toFixed(2)} ms/page  PostgreSQL CPU ${r.pgCpuPerPage.toFixed(2)} ms/page  driver CPU ${r.driverCpuPerPage.toFixed(2)} ms/page  (${r.pages} pages, ${r.errors} errors)`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadavg = async () => (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');

// ------------------------------------------------------------------ driver

/** The command line (see the top of the file), as strings. */
function options() {
  const defaults = { messages: '10000000', concurrency: '16', seconds: '8', warmup: '2', rounds: '3', limit: '50' };
  const spec = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, { type: 'string' as const, default: v }]));
  return parseArgs({ options: spec }).values as Record<keyof typeof defaults, string>;
}

async function main(): Promise<void> {
  const values = options();
  const n = Number(values.messages);
  const concurrency = Number(values.concurrency);
  const [seconds, warmup, limit] = [Number(values.seconds), Number(values.warmup), Number(values.limit)];
  if (!Number.isSafeInteger(n) || n < 1000) throw new Error('--messages must be a whole number of at least 1000');
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  if ((await admin.query('select 1 from pg_database where datname = $1', [DB_NAME])).rowCount === 0) await admin.query(`create database ${DB_NAME}`);
  await migrateDatabase(dbUrl('migrate'));

  const children: ServerChild[] = [];
  const clients: GuildhallClient[] = [];
  const cleanup = async () => {
    await Promise.all(children.map((c) => c.stop().catch(() => {})));
    await admin.end().catch(() => {});
    await deleteRedisKeys(REDIS_URL, prefix);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const ours = await startOurs(prefix);
    const base = spawnRole(SELF, 'baseline', {}, 'HISTORY_ROLE', 'HISTORY_BASELINE_NODE_FLAGS');
    children.push(ours, base);
    const [oursUrl, baseUrl] = await Promise.all([ours.ready, base.ready]);
    const pool = new pg.Pool({ connectionString: dbUrl('history-bench-setup'), max: 2 });
    const r = await room(oursUrl, pool, n);
    await pool.end();

    const oursReaders: Reader[] = Array.from({ length: concurrency }, () => {
      const c = createClient({ url: oursUrl, token: r.reader });
      clients.push(c);
      return async (beforeSeq) => (await c.messages.list.query({ scopeId: r.roomId, beforeSeq, limit })).items.map((m) => m.id);
    });
    const baseReaders: Reader[] = Array.from({ length: concurrency }, () => async (beforeSeq) => {
      const res = await fetch(`${baseUrl}/messages?scopeId=${r.roomId}&beforeSeq=${beforeSeq}&limit=${limit}`);
      if (!res.ok) throw new Error(`baseline: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { items: { id: string }[] }).items.map((m) => m.id);
    });
    // Same table, same pages: check a few before measuring.
    for (let i = 0; i < 5; i++) {
      const before = r.first + 1 + Math.floor(Math.random() * (r.last - r.first));
      const [a, b] = await Promise.all([oursReaders[0]!(before), baseReaders[0]!(before)]);
      if (a.join() !== b.join()) throw new Error(`ours and the baseline disagree on the page before seq ${before}`);
    }
    {
      // The bytes of one page on the wire (the body), as the SDK asks for it and as the baseline answers.
      const before = r.first + 1 + Math.floor((r.last - r.first) / 2);
      const input = encodeURIComponent(JSON.stringify({ 0: { json: { scopeId: r.roomId, beforeSeq: before, limit } } }));
      const oursBody = await (await fetch(`${oursUrl}/trpc/messages.list?batch=1&input=${input}`, { headers: { authorization: `Bearer ${r.reader}` } })).text();
      const baseBody = await (await fetch(`${baseUrl}/messages?scopeId=${r.roomId}&beforeSeq=${before}&limit=${limit}`)).text();
      if (!oursBody.includes(`"items"`)) throw new Error(`ours answered no page: ${oursBody}`);
      console.log(`bytes of one page: ours ${Buffer.byteLength(oursBody)}, baseline ${Buffer.byteLength(baseBody)}`);
    }
    console.log(`${concurrency} readers in a closed loop, ${limit} per page, ${seconds} s per step after ${warmup} s warm-up, node ${process.version}, load average ${await loadavg()}`);
    const ratios: { perSec: number; p50: number; p99: number; cpu: number; pgCpu: number }[] = [];
    for (let round = 1; round <= Number(values.rounds); round++) {
      console.log(`\nround ${round} (load average ${await loadavg()})`);
      const runBase = () => step('baseline', base, BASE_APP, admin, baseReaders, r, seconds, warmup);
      const runOurs = () => step('ours', ours, OURS_APP, admin, oursReaders, r, seconds, warmup);
      let b: StepResult;
      let o: StepResult;
      if (round % 2 === 1) {
        console.log(fmt((b = await runBase())));
        console.log(fmt((o = await runOurs())));
      } else {
        console.log(fmt((o = await runOurs())));
        console.log(fmt((b = await runBase())));
      }
      const x = { perSec: o.perSec / b.perSec, p50: o.p50 / b.p50, p99: o.p99 / b.p99, cpu: o.cpuPerPage / b.cpuPerPage, pgCpu: o.pgCpuPerPage / b.pgCpuPerPage };
      ratios.push(x);
      console.log(`  ours / baseline: throughput ${x.perSec.toFixed(2)}x, p50 ${x.p50.toFixed(2)}x, p99 ${x.p99.toFixed(2)}x, server CPU/page ${x.cpu.toFixed(2)}x, PostgreSQL CPU/page ${x.pgCpu.toFixed(2)}x`);
    }
    const m = (k: keyof (typeof ratios)[number]) => median(ratios.map((x) => x[k]));
    if (ratios.length > 0)
      console.log(
      `\nmedian of ${ratios.length} rounds, ours / baseline: throughput ${m('perSec').toFixed(2)}x (target >= 0.75), p99 ${m('p99').toFixed(2)}x (target <= 1.3), ` +
        `p50 ${m('p50').toFixed(2)}x, server CPU/page ${m('cpu').toFixed(2)}x, PostgreSQL CPU/page ${m('pgCpu').toFixed(2)}x; load average ${await loadavg()}`,
    );
  } finally {
    await cleanup();
  }
}

if (process.env.HISTORY_ROLE === 'baseline') void baselineMain();
else runMain(main);
