import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { codeOf, errCode } from './helpers/errors.js';
import { createTestDatabase, rawPool } from './helpers/db.js';
import { closeClient, createClient, signUpClient, startServer, testPrefix } from './helpers/server.js';
import { collect } from './helpers/subscribe.js';
import type { GuildhallServer } from '../src/server.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let pool: pg.Pool;
const opened: ReturnType<typeof createClient>[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = rawPool(db.url);
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
});
afterAll(async () => {
  for (const c of opened) closeClient(c);
  await server?.close(100);
  await pool?.end();
  await db?.drop();
});

const client = (token?: string) => {
  const c = createClient({ url: server.url, token });
  opened.push(c);
  return c;
};

describe('auth', () => {
  it('signs up, signs in with any case of the email, and answers me', async () => {
    const anon = client();
    const up = await anon.auth.signUp.mutate({ email: 'Dana@Example.com', password: 'hunter2hunter2', displayName: 'Dana' });
    expect(up.user).toMatchObject({ email: 'Dana@Example.com', displayName: 'Dana' });
    expect(up.token).toMatch(/^[\w-]{43}$/);
    const inn = await anon.auth.signIn.mutate({ email: 'dana@example.com', password: 'hunter2hunter2' });
    expect(inn.user.id).toBe(up.user.id);
    expect(await client(inn.token).auth.me.query()).toMatchObject({ id: up.user.id, email: 'Dana@Example.com' });
    // Only a hash of the token and an scrypt hash of the password are stored.
    const { rows } = await pool.query(`select password_hash from users where id = $1`, [up.user.id]);
    expect(rows[0].password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    const { rows: s } = await pool.query(`select count(*)::int as n from sessions where token_hash = $1`, [up.token]);
    expect(s[0].n).toBe(0);
  });

  it('refuses a wrong password and an unknown email with the same UNAUTHORIZED message', async () => {
    const u = await signUpClient(server.url, 'erin');
    const anon = client();
    const wrong = await anon.auth.signIn.mutate({ email: u.email, password: 'not the password' }).catch((e: Error) => e);
    const unknown = await anon.auth.signIn.mutate({ email: 'nobody@example.com', password: 'whatever1' }).catch((e: Error) => e);
    expect(errCode(wrong)).toBe('UNAUTHORIZED');
    expect(errCode(unknown)).toBe('UNAUTHORIZED');
    expect((wrong as Error).message).toBe((unknown as Error).message);
  });

  it('refuses a taken email with CONFLICT and bad sign-up input with BAD_REQUEST', async () => {
    const u = await signUpClient(server.url, 'fred');
    const anon = client();
    expect(await codeOf(anon.auth.signUp.mutate({ email: u.email.toUpperCase(), password: 'password123', displayName: 'x' }))).toBe('CONFLICT');
    expect(await codeOf(anon.auth.signUp.mutate({ email: 'not-an-email', password: 'password123', displayName: 'x' }))).toBe('BAD_REQUEST');
    expect(await codeOf(anon.auth.signUp.mutate({ email: 'short@example.com', password: 'short', displayName: 'x' }))).toBe('BAD_REQUEST');
    expect(await codeOf(anon.auth.signUp.mutate({ email: 'blank@example.com', password: 'password123', displayName: '   ' }))).toBe('BAD_REQUEST');
  });

  it('needs a token over HTTP and over WebSocket', async () => {
    const anon = client();
    expect(await codeOf(anon.auth.me.query())).toBe('UNAUTHORIZED');
    expect(await codeOf(client('garbage-token').auth.me.query())).toBe('UNAUTHORIZED');
    const sub = collect((h) => anon.messages.onEvent.subscribe({ scopeId: '00000000-0000-4000-8000-000000000000' }, h));
    expect(errCode(await sub.error)).toBe('UNAUTHORIZED');
    // A plain HTTP call without the header gets a 401 status.
    const res = await fetch(`${server.url}/trpc/auth.me`);
    expect(res.status).toBe(401);
  });

  it('refuses an expired session', async () => {
    const u = await signUpClient(server.url, 'gina');
    expect((await u.client.auth.me.query()).id).toBe(u.userId); // now cached
    await pool.query(`update sessions set expires_at = now() - interval '1 second' where user_id = $1`, [u.userId]);
    // Expiry moved in the database here, so drop the cached copies (a real expiry is in them too).
    await server.services.cache.del(`session:${sha256(u.token)}`);
    server.services.sessionCache.drop(sha256(u.token));
    expect(await codeOf(u.client.auth.me.query())).toBe('UNAUTHORIZED');
  });

  it('revokes a session on signOut, over HTTP and on an already open WebSocket', async () => {
    const u = await signUpClient(server.url, 'hank');
    const community = await u.client.scopes.create.mutate({ kind: 'community', name: 'c' });
    // Open the socket with a working subscription first.
    const live = collect((h) => u.client.messages.onEvent.subscribe({ scopeId: community.id, lastEventId: '0' }, h));
    await u.client.messages.send.mutate({ scopeId: community.id, body: 'hi' });
    await live.until(1);
    await u.client.auth.signOut.mutate();
    expect(await codeOf(u.client.auth.me.query())).toBe('UNAUTHORIZED');
    // A new subscription on the same, still open socket is refused.
    const again = collect((h) => u.client.messages.onEvent.subscribe({ scopeId: community.id }, h));
    expect(errCode(await again.error)).toBe('UNAUTHORIZED');
    live.stop();
  });
});

function sha256(s: string) {
  return createHash('sha256').update(s).digest('hex');
}
