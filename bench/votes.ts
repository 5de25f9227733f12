/**
 * Vote throughput against `messages.send` on the same setup, in the same run.
 *
 *   npm run bench:votes                                   # defaults below
 *   npm run bench:votes -- --voters 1000 --seconds 10 --rounds 2 --subscribers 10
 *
 * One server process (src/main.ts: PostgreSQL, Redis, a fresh database), `--voters` members
 * with an SDK client each (HTTP) in a closed loop for `--seconds`: as fast as they can, each
 * call waits for the previous one. Phases, back to back in each round:
 *   sends 1 room   every member sends messages into one room          (the baseline)
 *   votes 1 poll   every member votes on one poll (allowVoteChange; each vote changes the choice)
 *   sends 100 rooms / votes 100 polls   the same, member i on room / poll i mod 100
 * `--subscribers` members follow every room over WebSocket (messages.onEvent) and count the
 * events they receive per phase: message.created for sends, poll.updated for votes.
 * Prints ops/s, p50, p99 (ms) and events per subscriber, and votes/s ÷ sends/s. Needs
 * PostgreSQL on 127.0.0.1:5432 (BENCH_PG_URL, an admin connection) and Redis on 127.0.0.1:6379
 * (BENCH_REDIS_URL); drops its database and keys at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { closeClient, createClient, type GuildhallClient, type ScopeStreamEvent } from '../sdk/src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MULTI = 100;

const { values: args } = parseArgs({
  options: {
    voters: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    subscribers: { type: 'string', default: '10' },
  },
});
const VOTERS = Number(args.voters);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const SUBSCRIBERS = Number(args.subscribers);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, path.join(ROOT, 'src/main.ts')], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('guildhall listening')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out.slice(-2000)}`)));
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

interface PhaseResult {
  name: string;
  ops: number;
  perSec: number;
  p50: number;
  p99: number;
  errors: number;
  /** The distinct error messages of the phase, with how many times each came. */
  errorKinds: Map<string, number>;
  eventsPerSubscriber: number;
}

async function main() {
  const hex = randomBytes(4).toString('hex');
  const dbName = `bench_votes_${hex}`;
  const prefix = `bench:${hex}:`;
  await admin(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(PG_ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const port = await freePort();
  let server: ChildProcess | null = null;
  const clients: GuildhallClient[] = [];
  const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: 4 });
  try {
    server = await startServer({
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      POLL_VOTER_KEY: randomBytes(32).toString('hex'),
      MESSAGE_SEND_RATE: '100000000/1',
      LOG_LEVEL: 'info',
    });
    const url = `http://127.0.0.1:${port}`;
    const step = (what: string) => process.stderr.write(`[setup] ${what}\n`);
    step('server up');
    const anon = createClient({ url });
    const owner = await anon.auth.signUp.mutate({ email: `owner-${hex}@example.com`, password: 'bench-password', displayName: 'owner' });
    const oc = createClient({ url, token: owner.token });
    clients.push(anon, oc);
    const community = await oc.scopes.create.mutate({ kind: 'community', name: 'bench' });
    const rooms: string[] = [];
    for (let i = 0; i < MULTI; i++) rooms.push((await oc.scopes.create.mutate({ kind: 'room', parentId: community.id, name: `room-${i}` })).id);

    step('rooms created');
    // Members (setup only: raw SQL, so a thousand accounts take a second).
    const n = VOTERS + SUBSCRIBERS;
    const tokens = Array.from({ length: n }, () => randomBytes(32).toString('base64url'));
    const { rows } = await pool.query(
      `insert into users (email, display_name, password_hash) select 'b-' || gen_random_uuid() || '@example.com', 'member ' || i, 'x' from generate_series(1, $1::int) i returning id`,
      [n],
    );
    const ids = rows.map((r) => r.id as string);
    await pool.query(`insert into sessions (user_id, token_hash, expires_at) select unnest($1::uuid[]), unnest($2::text[]), now() + interval '1 day'`, [
      ids,
      tokens.map((t) => createHash('sha256').update(t).digest('hex')),
    ]);
    for (const scopeId of [community.id, ...rooms]) await pool.query(`insert into memberships (scope_id, user_id) select $1, unnest($2::uuid[])`, [scopeId, ids]);
    const voters = tokens.slice(0, VOTERS).map((token) => createClient({ url, token }));
    clients.push(...voters);

    step('members created');
    const options = [{ text: 'north' }, { text: 'south' }, { text: 'east' }, { text: 'west' }];
    const single = await oc.polls.create.mutate({ scopeId: rooms[0]!, question: 'One poll', options });
    const multi: (typeof single)[] = [];
    for (const [i, scopeId] of rooms.entries()) multi.push(await oc.polls.create.mutate({ scopeId, question: `Poll ${i}`, options }));

    step('polls created');
    // Subscribers on every room, counting what they receive.
    const counts = Array.from({ length: SUBSCRIBERS }, () => ({ created: 0, updated: 0 }));
    const subs: { unsubscribe(): void }[] = [];
    for (let s = 0; s < SUBSCRIBERS; s++) {
      const c = createClient({ url, token: tokens[VOTERS + s]! });
      clients.push(c);
      for (const scopeId of rooms) {
        await new Promise<void>((resolve) => {
          subs.push(
            c.messages.onEvent.subscribe(
              { scopeId },
              {
                onStarted: () => resolve(),
                onData: ({ data }: { data: ScopeStreamEvent }) => {
                  if (data.type === 'message.created') counts[s]!.created++;
                  else if (data.type === 'poll.updated') counts[s]!.updated++;
                },
                onError: (err) => console.error('subscription failed', err),
              },
            ),
          );
        });
      }
    }

    step('subscribers live');
    const phase = async (name: string, call: (i: number, k: number) => Promise<unknown>, kind: 'created' | 'updated'): Promise<PhaseResult> => {
      const before = counts.map((c) => c[kind]);
      const latencies: number[] = [];
      let errors = 0;
      const errorKinds = new Map<string, number>();
      const start = performance.now();
      const end = start + SECONDS * 1000;
      await Promise.all(
        voters.map(async (_, i) => {
          for (let k = 0; performance.now() < end; k++) {
            const t0 = performance.now();
            try {
              await call(i, k);
              latencies.push(performance.now() - t0);
            } catch (err) {
              errors++;
              const what = `${(err as { data?: { code?: string } }).data?.code ?? 'no code'}: ${(err as Error).message}`.slice(0, 160);
              errorKinds.set(what, (errorKinds.get(what) ?? 0) + 1);
            }
          }
        }),
      );
      const elapsed = (performance.now() - start) / 1000;
      // Let the last coalesced events and deliveries land before counting.
      await new Promise((r) => setTimeout(r, 2_000));
      latencies.sort((a, b) => a - b);
      const delivered = counts.map((c, s) => c[kind] - before[s]!);
      return {
        name,
        ops: latencies.length,
        perSec: latencies.length / elapsed,
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        errors,
        errorKinds,
        eventsPerSubscriber: delivered.reduce((a, b) => a + b, 0) / Math.max(1, SUBSCRIBERS),
      };
    };

    const pick = (poll: { options: { id: string }[] }, i: number, k: number) => [poll.options[(i + k) % 4]!.id];
    console.log(`votes bench: ${VOTERS} members in closed loops, ${SECONDS} s per phase, ${SUBSCRIBERS} subscribers on ${MULTI} rooms, ${ROUNDS} round(s)`);
    console.log('phase             ops/s     p50 ms    p99 ms   errors   events/subscriber');
    const ratios: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const results: PhaseResult[] = [];
      const steps: [string, (i: number, k: number) => Promise<unknown>, 'created' | 'updated'][] = [
        ['sends 1 room', (i, k) => voters[i]!.messages.send.mutate({ scopeId: rooms[0]!, body: `m ${i} ${k}` }), 'created'],
        ['votes 1 poll', (i, k) => voters[i]!.polls.vote.mutate({ pollId: single.id, optionIds: pick(single, i, k) }), 'updated'],
        ['sends 100 rooms', (i, k) => voters[i]!.messages.send.mutate({ scopeId: rooms[i % MULTI]!, body: `m ${i} ${k}` }), 'created'],
        ['votes 100 polls', (i, k) => voters[i]!.polls.vote.mutate({ pollId: multi[i % MULTI]!.id, optionIds: pick(multi[i % MULTI]!, i, k) }), 'updated'],
      ];
      for (const [name, call, kind] of steps) {
        const r = await phase(name, call, kind);
        results.push(r);
        console.log(
          `${r.name.padEnd(16)} ${r.perSec.toFixed(1).padStart(7)} ${r.p50.toFixed(1).padStart(10)} ${r.p99.toFixed(1).padStart(9)} ${String(r.errors).padStart(8)} ${r.eventsPerSubscriber.toFixed(1).padStart(12)}`,
        );
      }
      for (const r of results) for (const [what, n] of r.errorKinds) console.log(`  ${r.name}: ${n} × ${what}`);
      ratios.push(
        `round ${round}: votes/s ÷ sends/s = ${(results[1]!.perSec / results[0]!.perSec).toFixed(2)}× (1 poll vs 1 room), ${(results[3]!.perSec / results[2]!.perSec).toFixed(2)}× (100 polls vs 100 rooms)`,
      );
    }
    for (const r of ratios) console.log(r);
    const check = await pool.query(
      `select (select sum(vote_count) from poll_options o where o.poll_id = $1)::int as votes, (select voter_count from polls where id = $1) as voters`,
      [single.id],
    );
    console.log(`one-poll tally after the run: ${check.rows[0].votes} votes from ${check.rows[0].voters} voters (each member holds one vote)`);
    for (const s of subs) s.unsubscribe();
  } finally {
    for (const c of clients) closeClient(c);
    await pool.end();
    if (server) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
      server.kill('SIGKILL');
    }
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
