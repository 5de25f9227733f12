import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../helpers/subscribe.js';
import { errCode } from '../helpers/errors.js';
import { sseSubscribe } from '../helpers/sse.js';
import { createClient } from '../helpers/server.js';
import { governanceEnv, wsOnlyClient } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

/** Rejects when `p` takes longer than `ms`: the bound a test asserts, not a sleep. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('a revoked or expired session ends every subscription with UNAUTHORIZED', () => {
  async function setup() {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'S' });
    const u = await env.user('u');
    await u.http.members.join.mutate({ scopeId: c.id });
    return { owner, c, u };
  }

  /** Every subscription of `token`: WebSocket (the SDK's) and SSE, on both instances. */
  async function openAll(token: string, scopeId: string, watchId: string) {
    const ends: { what: string; code: Promise<string | null> }[] = [];
    const closers: (() => void)[] = [];
    for (const server of [env.a, env.b]) {
      const ws = wsOnlyClient(server.url, token);
      closers.push(ws.close);
      const k = ws.client;
      const subs = {
        messages: collect((h) => k.messages.onEvent.subscribe({ scopeId }, h)),
        me: collect((h) => k.me.onEvent.subscribe({}, h)),
        typing: collect((h) => k.typing.onEvent.subscribe({ scopeId }, h)),
        presence: collect((h) => k.presence.onEvent.subscribe({ userIds: [watchId] }, h)),
      };
      for (const [name, s] of Object.entries(subs)) {
        await s.started;
        ends.push({ what: `${name} over ws on ${server === env.a ? 'a' : 'b'}`, code: s.error.then(errCode).then((c) => c ?? null) });
        closers.push(s.stop);
      }
      const sse = {
        messages: sseSubscribe(server.url, 'messages.onEvent', { scopeId }, token),
        me: sseSubscribe(server.url, 'me.onEvent', {}, token),
        typing: sseSubscribe(server.url, 'typing.onEvent', { scopeId }, token),
        presence: sseSubscribe(server.url, 'presence.onEvent', { userIds: [watchId] }, token),
      };
      for (const [name, s] of Object.entries(sse)) {
        await s.connected;
        ends.push({ what: `${name} over sse on ${server === env.a ? 'a' : 'b'}`, code: s.ended });
        closers.push(s.close);
      }
    }
    return { ends, close: () => closers.forEach((c) => c()) };
  }

  it('on sign-out: messages, me, typing and presence, over WebSocket and SSE, on both instances, within a second', async () => {
    const { owner, c, u } = await setup();
    const { ends, close } = await openAll(u.token, c.id, owner.userId);
    try {
      await createClient({ url: env.b.url, token: u.token }).auth.signOut.mutate();
      const codes = await within(1_000, Promise.all(ends.map(async (e) => `${e.what}: ${await e.code}`)), 'subscriptions ending');
      expect(codes).toEqual(ends.map((e) => `${e.what}: UNAUTHORIZED`));
    } finally {
      close();
    }
  });

  it('when the session expires while subscribed', async () => {
    const { owner, c, u } = await setup();
    const db = env.a.services.database.db;
    const { sql } = await import('drizzle-orm');
    // Expire the session 1.5 s from now, and drop its cached copies so the expiry is read.
    await db.execute(sql`update sessions set expires_at = now() + interval '1500 milliseconds' where user_id = ${u.userId}`);
    const hash = (await import('node:crypto')).createHash('sha256').update(u.token).digest('hex');
    await env.a.services.cache.del(`session:${hash}`);
    for (const server of [env.a, env.b]) server.services.sessionCache.drop(hash);
    const { ends, close } = await openAll(u.token, c.id, owner.userId);
    try {
      const codes = await within(3_000, Promise.all(ends.map(async (e) => `${e.what}: ${await e.code}`)), 'subscriptions ending');
      expect(codes).toEqual(ends.map((e) => `${e.what}: UNAUTHORIZED`));
    } finally {
      close();
    }
  });
});
