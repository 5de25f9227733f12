import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/db.js';
import { freePort, runMain, type ServerProcess } from './helpers/process.js';
import { testPrefix } from './helpers/server.js';
import { collect, messageOf, type Collected } from './helpers/subscribe.js';
import { createClient, closeClient, type GuildhallClient, type ScopeStreamEvent } from '../sdk/src/index.js';

/**
 * Not timed: 20 writers and 50 subscribers on two instances while one instance is
 * killed (SIGKILL) and restarted and Redis is restarted; sends are retried with the same
 * nonce. Prints acknowledged-but-missing, duplicated, reordered and undelivered counts.
 */
const WRITERS = 20;
const PER_WRITER = 20;
const SUBSCRIBERS = 50;
const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-reliability-'));
const children: (ChildProcess | undefined)[] = [];
const clients: GuildhallClient[] = [];
let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;

afterAll(async () => {
  for (const c of clients) closeClient(c);
  for (const c of children) c?.kill('SIGKILL');
  await db?.drop();
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
async function stop(p: ChildProcess) {
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

describe('reliability under failure', () => {
  it('loses, duplicates and reorders nothing while an instance and Redis restart', async () => {
    db = await createTestDatabase();
    const redisPort = await freePort();
    let redis = await startRedis(redisPort);
    const env = (port: number) => ({
      PORT: String(port),
      DATABASE_URL: db!.url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      REDIS_PREFIX: testPrefix(),
      REALTIME_SWEEP_MS: '500',
      LOG_LEVEL: 'info',
    });
    const ports = [await freePort(), await freePort()];
    const prefix = testPrefix();
    const envOf = (i: number) => ({ ...env(ports[i]!), REDIS_PREFIX: prefix });
    const instances: ServerProcess[] = [runMain(dir, envOf(0)), runMain(dir, envOf(1))];
    for (const s of instances) {
      children.push(s.child);
      await s.waitFor(/guildhall listening/);
    }
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
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
    }
    await Promise.all(subs.map((s) => s.started));

    // 20 writers; a failed send is retried with the same nonce, on the other instance.
    const acked = new Map<string, number>(); // nonce → seq
    let retries = 0;
    const failures = async (n: number) => {
      while (acked.size < n) await new Promise((r) => setImmediate(r));
    };
    const writers = accounts.slice(0, WRITERS).map(async (account, w) => {
      const perInstance = urls.map((url) => createClient({ url, token: account.token }));
      for (let k = 0; k < PER_WRITER; k++) {
        const nonce = `w${w}-m${k}`;
        for (let attempt = 0; ; attempt++) {
          const client = perInstance[(w + attempt) % 2]!;
          try {
            const m = await client.messages.send.mutate({ scopeId: room.id, body: nonce, nonce });
            acked.set(nonce, m.seq);
            break;
          } catch (err) {
            retries++;
            if (attempt > 400) throw err;
            await new Promise((r) => setTimeout(r, 25)); // back off while an instance or Redis restarts
          }
        }
      }
    });

    // Chaos, driven by progress rather than by time.
    const chaos = (async () => {
      await failures(80);
      await stop(instances[0]!.child); // instance 0 dies mid-run
      instances[0] = runMain(dir, envOf(0));
      children.push(instances[0].child);
      await instances[0].waitFor(/guildhall listening/);
      await failures(220);
      await stop(redis); // Redis restarts
      redis = await startRedis(redisPort);
    })();
    await Promise.all([...writers, chaos]);

    const total = WRITERS * PER_WRITER;
    const page = await ownerClient.messages.list.query({ scopeId: room.id, limit: 100 });
    const stored = new Map<string, number>();
    for (let before: number | null | undefined = undefined, p = page; ; ) {
      for (const m of p.items) stored.set(m.nonce ?? m.body, m.seq);
      if (p.nextBeforeSeq === null) break;
      before = p.nextBeforeSeq;
      p = await ownerClient.messages.list.query({ scopeId: room.id, limit: 100, beforeSeq: before });
    }
    // Every subscriber must end up with every stored message; wait for it (bounded by the test timeout).
    // (The log also holds the member.joined events of the setup.)
    const lastSeq = (await ownerClient.scopes.get.query({ scopeId: room.id })).lastSeq;
    await Promise.all(subs.map((s) => s.until(lastSeq)));

    let ackedMissing = 0;
    for (const [nonce, seq] of acked) if (stored.get(nonce) !== seq) ackedMissing++;
    let duplicated = stored.size === total ? 0 : Math.abs(stored.size - total);
    let reordered = 0;
    let undelivered = 0;
    for (const s of subs) {
      const seqs = s.items.map((e) => e.seq);
      const seen = new Set<number>();
      for (let i = 0; i < seqs.length; i++) {
        if (seen.has(seqs[i]!)) duplicated++;
        seen.add(seqs[i]!);
        if (i > 0 && seqs[i]! <= seqs[i - 1]!) reordered++;
      }
      const bodies = new Set(s.items.filter((e) => e.type === 'message.created').map((e) => messageOf(e).body));
      for (const nonce of acked.keys()) if (!bodies.has(nonce)) undelivered++;
    }
    console.log(
      `reliability: writers=${WRITERS} subscribers=${SUBSCRIBERS} acked=${acked.size} stored=${stored.size} retries=${retries} ` +
        `acknowledged-but-missing=${ackedMissing} duplicated=${duplicated} reordered=${reordered} undelivered=${undelivered}`,
    );
    expect(acked.size).toBe(total);
    expect(retries).toBeGreaterThan(0); // the failures really happened
    expect({ ackedMissing, duplicated, reordered, undelivered }).toEqual({ ackedMissing: 0, duplicated: 0, reordered: 0, undelivered: 0 });
  }, 180_000);
});
