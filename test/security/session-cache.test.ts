import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCache } from '../../src/auth/session-cache.js';
import { MemoryBus } from '../../src/infra/bus.js';
import { REVOKED_CHANNEL } from '../../src/auth/session-watch.js';
import { codeOf } from '../helpers/errors.js';
import { createClient } from '../helpers/server.js';
import { governanceEnv } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** Calls `auth.me` on `url` until it fails with UNAUTHORIZED; rejects when that takes over `ms`. */
async function unauthorizedWithin(url: string, token: string, ms: number): Promise<number> {
  const started = Date.now();
  const client = createClient({ url, token });
  for (;;) {
    const code = await codeOf(client.auth.me.query());
    if (code === 'UNAUTHORIZED') return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`auth.me on ${url} still answers ${code ?? 'OK'} ${ms} ms after the sign-out`);
  }
}

describe('sessions kept in process (SessionCache)', () => {
  it('a sign-out on one instance drops the session another instance keeps: its next calls are UNAUTHORIZED', async () => {
    const u = await env.user('cached');
    // Both instances resolve the token once: each now keeps the session in process.
    expect((await createClient({ url: env.a.url, token: u.token }).auth.me.query()).id).toBe(u.userId);
    expect((await createClient({ url: env.b.url, token: u.token }).auth.me.query()).id).toBe(u.userId);
    const hash = hashOf(u.token);
    expect(env.a.services.sessionCache.get(hash)).not.toBeNull();
    expect(env.b.services.sessionCache.get(hash)).not.toBeNull();
    await createClient({ url: env.a.url, token: u.token }).auth.signOut.mutate();
    // On the instance that signed out: at once.
    expect(env.a.services.sessionCache.get(hash)).toBeNull();
    expect(await codeOf(createClient({ url: env.a.url, token: u.token }).auth.me.query())).toBe('UNAUTHORIZED');
    // On the other: as soon as the bus message arrives (without it, the copy would serve for a minute).
    await unauthorizedWithin(env.b.url, u.token, 1_000);
    expect(env.b.services.sessionCache.get(hash)).toBeNull();
  });

  it('a lookup that began before a sign-out reached this instance does not keep the session', async () => {
    const bus = new MemoryBus();
    const cache = new SessionCache<string>(bus, 60_000, 10);
    await cache.start();
    const mark = cache.mark();
    await bus.publish(REVOKED_CHANNEL, 'h1');
    await new Promise<void>((r) => queueMicrotask(r)); // the in-process bus delivers in a microtask
    cache.set('h1', 'session read before the sign-out', mark);
    expect(cache.get('h1')).toBeNull();
    cache.set('h1', 'read after', cache.mark());
    expect(cache.get('h1')).toBe('read after');
    await cache.stop();
  });

  it('keeps at most `max` sessions, and none past its time to live', async () => {
    const cache = new SessionCache<number>(new MemoryBus(), 50, 2);
    for (const [i, h] of ['a', 'b', 'c'].entries()) cache.set(h, i, cache.mark());
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([null, 1, 2]);
    await new Promise((r) => setTimeout(r, 60));
    expect(cache.get('c')).toBeNull();
  });
});
