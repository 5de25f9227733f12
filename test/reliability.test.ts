import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { PrivateCluster } from './helpers/private-pg.js';
import { freePort, runMain, type ServerProcess } from './helpers/process.js';
import { testPrefix } from './helpers/server.js';
import { collect, messageOf, type Collected } from './helpers/subscribe.js';
import { createClient, closeClient, type GuildhallClient, type ScopeStreamEvent } from '../sdk/src/index.js';

/**
 * Not timed: writers and 50 subscribers on two instances, on a PostgreSQL cluster of this
 * test's own and a Redis of its own, while, one after the other: an instance is killed
 * (SIGKILL) and restarted; the other is stopped (SIGTERM) and restarted; every database
 * connection of one instance is terminated (pg_terminate_backend, repeatedly for a moment);
 * PostgreSQL restarts; Redis restarts; then 500 subscribers resume at once with a
 * lastEventId while the writers go on.
 * Sends are retried with the same nonce. During each fault /readyz of the instances it hits
 * must turn not ready and come back to 200: a 503 wherever the process is still up, the
 * SIGTERMed instance included (it drains, SHUTDOWN_DRAIN_MS, answering 503 while it still
 * serves, before it closes). A SIGKILLed process is gone at once and cannot answer at all:
 * for it "not ready" is a failed request ("down"), nothing more can be observed.
 * Prints one line of counts: acknowledged-but-missing, duplicated, reordered,
 * undelivered, and 500s.
 */
/** RELIABILITY_TRACE=<file> appends the chaos steps there as they happen. */
const steps: { at: number; line: string }[] = [];
const trace = (line: string) => {
  steps.push({ at: Date.now(), line });
  if (process.env.RELIABILITY_TRACE) appendFileSync(process.env.RELIABILITY_TRACE, `${new Date().toISOString()} ${line}\n`);
};
/** The last chaos step before `at` (ms since the epoch), for telling which fault an anomaly followed. */
const stepBefore = (at: number) => steps.filter((s) => s.at <= at).at(-1)?.line ?? 'before the chaos';
const WRITERS = 20;
const SUBSCRIBERS = 50;
const RESUMERS = 500;
const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-reliability-'));
const children: (ChildProcess | undefined)[] = [];
const clients: GuildhallClient[] = [];
let cluster: PrivateCluster | undefined;

afterAll(async () => {
  for (const c of clients) closeClient(c);
  for (const c of children) c?.kill('SIGKILL');
  cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'pipe' });
  children.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && resolve());
    p.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  return p;
}
async function stop(p: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  const gone = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill(signal);
  return gone;
}

/**
 * Polls `GET /readyz` of `url` every 50 ms until stopped; `notReady` resolves at the
 * first 503 or failed request (a dead process, or no answer within 10 s), `ready()` at the
 * next 200 after it.
 */
function watchReady(url: string) {
  let stopped = false;
  const seen: (number | 'down')[] = [];
  let resolveNotReady!: (s: number | 'down') => void;
  const notReady = new Promise<number | 'down'>((r) => (resolveNotReady = r));
  let resolveBack!: () => void;
  const back = new Promise<void>((r) => (resolveBack = r));
  void (async () => {
    let wentDown = false;
    while (!stopped) {
      // A dead process fails at once (connection refused); a live one on a loaded host may take
      // seconds to answer its 503 (the readiness pings wait up to 2 s), and that answer is what counts.
      const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 'down' as const);
      seen.push(status);
      if (status !== 200 && !wentDown) {
        wentDown = true;
        resolveNotReady(status);
      }
      if (status === 200 && wentDown) resolveBack();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { notReady, back, seen, stop: () => (stopped = true) };
}

describe('reliability under failure', () => {
  it('loses, duplicates and reorders nothing and answers no 500 through instance, database and Redis faults', async () => {
    cluster = new PrivateCluster(dir, await freePort());
    await cluster.init('guildhall');
    const redisPort = await freePort();
    let redis = await startRedis(redisPort);
    const ports = [await freePort(), await freePort()];
    const prefix = testPrefix();
    const envOf = (i: number) => ({
      PORT: String(ports[i]!),
      DATABASE_URL: cluster!.url('guildhall', `gh-${i}`),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      REDIS_PREFIX: prefix,
      REALTIME_SWEEP_MS: '500',
      LOG_LEVEL: 'info',
    });
    const instances: ServerProcess[] = [runMain(dir, envOf(0)), runMain(dir, envOf(1))];
    for (const s of instances) {
      children.push(s.child);
      await s.waitFor(/guildhall listening/);
    }
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    trace('instances listening');
    const restart = async (i: number) => {
      instances[i] = runMain(dir, envOf(i));
      children.push(instances[i]!.child);
      await instances[i]!.waitFor(/guildhall listening/);
    };
    const fastRetry = () => 200;

    // Setup: an owner, one room; writers and subscriber accounts join it.
    const anon = createClient({ url: urls[0]! });
    const owner = await anon.auth.signUp.mutate({ email: `owner-${randomUUID()}@example.com`, password: 'owner-password', displayName: 'owner' });
    const ownerClient = createClient({ url: urls[0]!, token: owner.token });
    const room = await ownerClient.scopes.create.mutate({ kind: 'community', name: 'reliability' });
    const accounts = await Promise.all(
      Array.from({ length: WRITERS + 5 }, async (_, i) => {
        const a = await anon.auth.signUp.mutate({ email: `u${i}-${randomUUID()}@example.com`, password: 'user-password', displayName: `u${i}` });
        await createClient({ url: urls[0]!, token: a.token }).members.join.mutate({ scopeId: room.id });
        return a;
      }),
    );

    // 50 subscribers, half on each instance, from seq 0.
    const subs: Collected<ScopeStreamEvent>[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const account = accounts[WRITERS + (i % 5)]!;
      const client = createClient({ url: urls[i % 2]!, token: account.token, retryDelayMs: fastRetry });
      clients.push(client);
      subs.push(collect<ScopeStreamEvent>((h) => client.messages.onEvent.subscribe({ scopeId: room.id, lastEventId: '0' }, h)));
      // Ten sockets at a time: a socket counts against the per-address cap until its connectionParams arrive.
      if (i % 10 === 9) await Promise.all(subs.slice(-10).map((s) => s.started));
    }
    trace('subscribers started');

    // Writers send until the chaos is over; a failed send is retried with the same nonce, on the other instance.
    const acked = new Map<string, number>(); // nonce → seq
    const attempted = new Set<string>();
    let retries = 0;
    let status500 = 0;
    let chaosDone = false;
    const progress = async (more: number) => {
      const target = acked.size + more;
      while (acked.size < target) await new Promise((r) => setTimeout(r, 10));
    };
    const writers = accounts.slice(0, WRITERS).map(async (account, w) => {
      const perInstance = urls.map((url) => createClient({ url, token: account.token }));
      for (let k = 0; !chaosDone || k < 5; k++) {
        const nonce = `w${w}-m${k}`;
        attempted.add(nonce);
        for (let attempt = 0; ; attempt++) {
          const client = perInstance[(w + attempt) % 2]!;
          try {
            const m = await client.messages.send.mutate({ scopeId: room.id, body: nonce, nonce });
            acked.set(nonce, m.seq);
            break;
          } catch (err) {
            retries++;
            const data = err instanceof TRPCClientError ? (err.data as { code?: string; httpStatus?: number } | undefined) : undefined;
            if (data?.code === 'INTERNAL_SERVER_ERROR' || data?.httpStatus === 500) status500++;
            if (attempt > 2_000) throw err;
            await new Promise((r) => setTimeout(r, 25)); // back off while an instance, PostgreSQL or Redis restarts
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    // Chaos, driven by progress rather than by time: each fault after some acknowledged sends.
    const faults: { fault: string; notReady: number | 'down' }[] = [];
    const during = async (fault: string, watched: string[], act: () => Promise<void>, heal: () => Promise<void>) => {
      await progress(30);
      trace(`${fault}: start (acked ${acked.size}, retries ${retries})`);
      const watchers = watched.map(watchReady);
      await act();
      const first = await Promise.all(watchers.map((w) => w.notReady));
      trace(`${fault}: not ready ${first.join(',')}`);
      await heal();
      trace(`${fault}: healed`);
      await Promise.all(watchers.map((w) => w.back));
      trace(`${fault}: ready again`);
      for (const w of watchers) w.stop();
      faults.push({ fault, notReady: first.includes(503) ? 503 : first[0]! });
    };
    const resumed: { from: number; sub: Collected<ScopeStreamEvent> }[] = [];
    const chaos = (async () => {
      await during('SIGKILL', [urls[0]!], () => stop(instances[0]!.child).then(() => {}), () => restart(0));
      let termCode: number | null = null;
      await during('SIGTERM', [urls[1]!], async () => void (termCode = await stop(instances[1]!.child, 'SIGTERM')), () => restart(1));
      expect(termCode).toBe(0);
      // Every connection of instance 0, terminated again and again for a moment (as in a failover).
      let killing = true;
      let killer: Promise<void> = Promise.resolve();
      await during(
        'pg_terminate_backend',
        [urls[0]!],
        async () => {
          killer = (async () => {
            while (killing) {
              await cluster!.query('postgres', `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'gh-0'`).catch(() => {});
              await new Promise((r) => setTimeout(r, 10));
            }
          })();
        },
        async () => {
          killing = false;
          await killer;
        },
      );
      await during('PostgreSQL restart', urls, () => cluster!.stop(), () => cluster!.start());
      await during('Redis restart', urls, () => stop(redis).then(() => {}), async () => {
        await Promise.all(instances.map((s) => s.waitFor(/redis disconnected/)));
        redis = await startRedis(redisPort);
      });
      // 500 subscribers resume at once from where a subscriber is now, spread over both instances.
      await progress(20);
      const from = subs[0]!.items.at(-1)?.seq ?? 0;
      for (let c = 0; c < RESUMERS / 20; c++) {
        const client = createClient({ url: urls[c % 2]!, token: accounts[WRITERS + (c % 5)]!.token, retryDelayMs: fastRetry });
        clients.push(client);
        // The client's 20 subscriptions leave in one frame as soon as its socket is open.
        const batch = Array.from({ length: 20 }, () => ({
          from,
          sub: collect<ScopeStreamEvent>((h) => client.messages.onEvent.subscribe({ scopeId: room.id, lastEventId: String(from) }, h)),
        }));
        resumed.push(...batch);
        if (c % 10 === 9) await Promise.all(batch.map((r) => r.sub.started));
      }
      await Promise.all(resumed.map((r) => r.sub.started));
      trace(`resumers started from ${from}`);
      chaosDone = true;
    })();
    await Promise.all([...writers, chaos]);
    trace(`writers done: acked ${acked.size}`);

    const stored = new Map<string, number>();
    for (let p = await ownerClient.messages.list.query({ scopeId: room.id, limit: 100 }); ; ) {
      for (const m of p.items) stored.set(m.nonce ?? m.body, m.seq);
      if (p.nextBeforeSeq === null) break;
      p = await ownerClient.messages.list.query({ scopeId: room.id, limit: 100, beforeSeq: p.nextBeforeSeq });
    }
    // Every subscriber must end up with every event up to the last; wait for it (bounded by the test timeout).
    // (The log also holds the member.joined events of the setup.)
    const lastSeq = (await ownerClient.scopes.get.query({ scopeId: room.id })).lastSeq;
    trace(`waiting for subscribers up to ${lastSeq}`);
    await Promise.all(subs.map((s) => s.until(lastSeq)));
    await Promise.all(resumed.map((r) => r.sub.until(lastSeq - r.from)));

    let ackedMissing = 0;
    for (const [nonce, seq] of acked) if (stored.get(nonce) !== seq) ackedMissing++;
    let duplicated = Math.abs(stored.size - attempted.size);
    let reordered = 0;
    let undelivered = 0;
    const anomalies: string[] = [];
    const check = (who: string, sub: Collected<ScopeStreamEvent>, from: number) => {
      const items = sub.items;
      const seqs = items.map((e) => e.seq);
      const seen = new Set<number>();
      const note = (what: string, i: number) =>
        anomalies.push(`${who} ${what} seq=${seqs[i]} after ${seqs[i - 1] ?? '-'} at ${new Date(sub.times[i]!).toISOString()} (last step: ${stepBefore(sub.times[i]!)})`);
      for (let i = 0; i < seqs.length; i++) {
        if (seen.has(seqs[i]!)) (duplicated++, note('duplicated', i));
        seen.add(seqs[i]!);
        if (i > 0 && seqs[i]! <= seqs[i - 1]!) (reordered++, note('reordered', i));
        if (seqs[i]! <= from) (duplicated++, note(`replayed (resumed from ${from})`, i)); // replayed what the subscriber already had
      }
      const bodies = new Set(items.filter((e) => e.type === 'message.created').map((e) => messageOf(e).body));
      for (const [nonce, seq] of acked) if (seq > from && !bodies.has(nonce)) undelivered++;
    };
    const nonceIdempotence = duplicated; // |stored − attempted|: a retried send stored twice, or one lost
    subs.forEach((s, i) => check(`subscriber ${i} (instance ${i % 2})`, s, 0));
    resumed.forEach((r, i) => check(`resumer ${i} (instance ${Math.floor(i / 20) % 2})`, r.sub, r.from));
    if (nonceIdempotence > 0) anomalies.unshift(`stored ${stored.size} messages for ${attempted.size} nonces`);
    // Each duplicated or reordered seq, per subscriber, with the chaos step before it.
    for (const a of anomalies.slice(0, 200)) console.log(`reliability: ${a}`);
    if (process.env.RELIABILITY_TRACE) for (const a of anomalies) trace(a);
    console.log(
      `reliability: writers=${WRITERS} subscribers=${SUBSCRIBERS} resumers=${RESUMERS} acked=${acked.size} stored=${stored.size} retries=${retries} ` +
        `faults=${faults.map((f) => `${f.fault}:${f.notReady}`).join(',')} ` +
        `acknowledged-but-missing=${ackedMissing} duplicated=${duplicated} reordered=${reordered} undelivered=${undelivered} status500=${status500}`,
    );
    expect(acked.size).toBe(attempted.size);
    expect(retries).toBeGreaterThan(0); // the failures really happened
    expect(faults.map((f) => f.fault)).toEqual(['SIGKILL', 'SIGTERM', 'pg_terminate_backend', 'PostgreSQL restart', 'Redis restart']);
    // Where the process stays up, not ready is a 503: the SIGTERMed instance's drain too. A
    // SIGKILLed process cannot answer at all ("down").
    expect(faults.map((f) => f.notReady)).toEqual(['down', 503, 503, 503, 503]);
    expect({ ackedMissing, duplicated, reordered, undelivered, status500 }).toEqual({ ackedMissing: 0, duplicated: 0, reordered: 0, undelivered: 0, status500: 0 });
    // On a quiet 2-core machine an instance restarts in a few seconds; on a loaded one in ~20.
  }, 420_000);

  it('names REDIS_URL when Redis cannot be reached at start', async () => {
    const s = runMain(dir, { PORT: String(await freePort()), DATABASE_URL: cluster!.url('guildhall'), REDIS_URL: `redis://127.0.0.1:${await freePort()}`, LOG_LEVEL: 'info' });
    children.push(s.child);
    expect(await s.exited).toBe(1);
    expect(s.output()).toMatch(/guildhall: failed to start: cannot reach Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:\d+\/?:/);
  }, 60_000);
});
