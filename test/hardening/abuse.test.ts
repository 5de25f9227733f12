import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { GuildhallServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/db.js';
import { signUpClient, startServer, testPrefix } from '../helpers/server.js';
import { rawSocket } from '../helpers/ws-client.js';
import { limits } from '../../src/config.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
/**
 * The auth timeout of `proxied`: long enough that the 256 sockets of the cap are all open
 * before the first is closed, even on a 2-core machine busy with the rest of the suite: at
 * 400 ms the test failed now and then in full runs (not reproduced alone, even with the
 * cores loaded), and a first socket closed before the 257th opened would explain it.
 */
const AUTH_TIMEOUT_MS = 2_500;
/** Behind one trusted proxy (TRUST_PROXY=1), with short limits so the tests are quick. */
let proxied: GuildhallServer;
/** No TRUST_PROXY: X-Forwarded-For is the client's own text and ignored. */
let direct: GuildhallServer;

beforeAll(async () => {
  db = await createTestDatabase();
  proxied = await startServer({
    databaseUrl: db.url,
    redisPrefix: testPrefix(),
    env: { TRUST_PROXY: '1', WS_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS), SIGN_IN_IP_FAILURES_PER_DAY: '30' },
  });
  direct = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
});
afterAll(async () => {
  await Promise.all([proxied?.close(100), direct?.close(100)]);
  await db?.drop();
});

const closed = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));

/** One sign-in over plain HTTP from `ip` (as the proxy would write X-Forwarded-For); the tRPC code or 'OK'. */
async function signInFrom(server: GuildhallServer, ip: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${server.url}/trpc/auth.signIn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ json: { email, password } }),
  });
  const body = (await res.json()) as { error?: { json: { data: { code: string } } } };
  return body.error ? body.error.json.data.code : 'OK';
}

describe('sockets that never authenticate', () => {
  it('are closed after the auth timeout (4408) and count against the cap for sockets without a session until then', async () => {
    const sockets = await Promise.all(Array.from({ length: limits.wsAnonymousPerAddress }, () => rawSocket(proxied.url, '?connectionParams=1')));
    const ends = sockets.map(closed);
    const extra = await rawSocket(proxied.url, '?connectionParams=1');
    const refused = await closed(extra);
    expect(refused.code).toBe(4429);
    const all = await Promise.all(ends);
    expect(all.every((c) => c.code === 4408)).toBe(true);
    expect(all[0]!.reason).toContain('connectionParams');
    // Once they are gone the address may open sockets again, and one that authenticates stays.
    const u = await signUpClient(proxied.url, 'late');
    const ws = await rawSocket(proxied.url, '?connectionParams=1');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: u.token } }));
    const reply = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
    expect(JSON.parse(await reply).result.data.json.id).toBe(u.userId);
    await new Promise((r) => setTimeout(r, AUTH_TIMEOUT_MS + 200)); // past the timeout: still open
    expect(ws.readyState).toBe(ws.OPEN);
    ws.close();
  });
});

describe('HTTP (SSE) subscriptions', () => {
  it('are capped at 50 per user: the 51st is TOO_MANY_REQUESTS, and a closed one frees its slot', async () => {
    const u = await signUpClient(direct.url, 'sse');
    const open = async () => {
      const controller = new AbortController();
      const res = await fetch(`${direct.url}/trpc/me.onEvent?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, {
        headers: { authorization: `Bearer ${u.token}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      return { first, status: res.status, close: () => controller.abort() };
    };
    const streams = [];
    for (let i = 0; i < 50; i++) streams.push(await open());
    expect(streams.every((s) => s.status === 200 && !s.first.includes('TOO_MANY_REQUESTS'))).toBe(true);
    const over = await open();
    expect(over.first).toContain('TOO_MANY_REQUESTS');
    expect(over.first).toContain('at most 50 per user');
    over.close();
    streams.pop()!.close();
    // The slot comes back when the server sees the request go.
    let again = await open();
    for (let i = 0; i < 50 && again.first.includes('TOO_MANY_REQUESTS'); i++) {
      again.close();
      await new Promise((r) => setTimeout(r, 20));
      again = await open();
    }
    expect(again.first).not.toContain('TOO_MANY_REQUESTS');
    for (const s of [...streams, again]) s.close();
  });
});

describe('sign-in', () => {
  it('a correct password from another address works while one address hammers the account', async () => {
    const owner = await signUpClient(proxied.url, 'owner');
    const hammer = [];
    for (let i = 0; i < 12; i++) hammer.push(await signInFrom(proxied, '203.0.113.7', owner.email, `guess-${i}`));
    expect(hammer.slice(0, 10).every((c) => c === 'UNAUTHORIZED')).toBe(true);
    expect(hammer.slice(10)).toEqual(['TOO_MANY_REQUESTS', 'TOO_MANY_REQUESTS']);
    // The guesser's address is locked out of this account, even with the right password …
    expect(await signInFrom(proxied, '203.0.113.7', owner.email, 'correct horse battery')).toBe('TOO_MANY_REQUESTS');
    // … the owner, elsewhere, is not.
    expect(await signInFrom(proxied, '198.51.100.20', owner.email, 'correct horse battery')).toBe('OK');
  });

  it('limits failures per address over all emails (200 emails from one client)', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 40; i++) codes.push(await signInFrom(proxied, '203.0.113.99', `nobody-${i}-${randomUUID()}@example.com`, 'whatever1'));
    expect(codes.slice(0, 30).every((c) => c === 'UNAUTHORIZED')).toBe(true);
    expect(codes.slice(30).every((c) => c === 'TOO_MANY_REQUESTS')).toBe(true);
    // Other addresses are not affected.
    expect(await signInFrom(proxied, '203.0.113.100', `nobody-${randomUUID()}@example.com`, 'whatever1')).toBe('UNAUTHORIZED');
  });

  it('ignores X-Forwarded-For without TRUST_PROXY (a client cannot pick a fresh address per guess)', async () => {
    const owner = await signUpClient(direct.url, 'spoofed');
    const codes = [];
    for (let i = 0; i < 11; i++) codes.push(await signInFrom(direct, `10.9.8.${i}`, owner.email, `guess-${i}`));
    expect(codes[10]).toBe('TOO_MANY_REQUESTS');
  });

  it('bounds concurrent password hashes: a flood of 400 sign-ins from one client is refused fast and a correct one still gets in', async () => {
    const owner = await signUpClient(proxied.url, 'busy');
    const batch = (n: number) =>
      fetch(`${proxied.url}/trpc/${Array.from({ length: n }, () => 'auth.signIn').join(',')}?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.1' },
        body: JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: { email: `flood-${i}-${randomUUID()}@example.com`, password: 'whatever1' } }]))),
      }).then((r) => r.json() as Promise<{ error?: { json: { data: { code: string } } } }[]>);
    let started = Date.now();
    expect(await signInFrom(proxied, '198.51.100.77', owner.email, 'correct horse battery')).toBe('OK');
    const aloneMs = Date.now() - started;
    const flood = Promise.all(Array.from({ length: 8 }, () => batch(50)));
    started = Date.now();
    const legit = await signInFrom(proxied, '198.51.100.77', owner.email, 'correct horse battery');
    const legitMs = Date.now() - started;
    const codes = (await flood).flat().map((r) => r.error?.json.data.code);
    const busy = codes.filter((c) => c === 'TOO_MANY_REQUESTS').length;
    console.log(`sign-in flood: 400 calls, ${busy} refused as busy; a correct sign-in took ${legitMs} ms during it, ${aloneMs} ms alone`);
    expect(legit).toBe('OK');
    expect(busy).toBeGreaterThan(300);
    expect(codes.every((c) => c === 'TOO_MANY_REQUESTS' || c === 'UNAUTHORIZED')).toBe(true);
    expect(legitMs).toBeLessThan(10_000);
  });
});
