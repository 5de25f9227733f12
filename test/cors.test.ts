import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../src/config.js';
import { parseOriginList } from '../src/http/origins.js';
import { PREFLIGHT_MAX_AGE_S } from '../src/http/cors.js';
import type { GuildhallServer } from '../src/server.js';
import { createTestDatabase } from './helpers/db.js';
import { signUpClient, startServer, testPrefix } from './helpers/server.js';

const APP = 'http://app.example.test:5173';
const EVIL = 'https://evil.example.test';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
/** CORS_ORIGINS = APP. */
let listed: GuildhallServer;
/** CORS_ORIGINS = *. */
let open: GuildhallServer;
/** Service mode (DATABASE_URL in the environment), CORS_ORIGINS unset. */
let services: GuildhallServer;
/** Embedded-mode defaults (no DATABASE_URL in the environment), CORS_ORIGINS unset. */
let embedded: GuildhallServer;

beforeAll(async () => {
  db = await createTestDatabase();
  const base = { databaseUrl: db.url, redisPrefix: testPrefix() };
  [listed, open, services, embedded] = await Promise.all([
    startServer({ ...base, env: { CORS_ORIGINS: `${APP}, https://other.example.test` } }),
    startServer({ ...base, env: { CORS_ORIGINS: '*' } }),
    startServer({ ...base, env: { DATABASE_URL: db.url } }),
    startServer(base),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([listed, open, services, embedded].map((s) => s?.close(100)));
  await db?.drop();
});

const preflight = (server: GuildhallServer, origin: string, path = '/trpc/auth.signIn') =>
  fetch(`${server.url}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });

/** Opens a WebSocket to /trpc, optionally with an Origin; resolves with 'open' or the HTTP status of the refusal. */
function upgrade(server: GuildhallServer, origin?: string): Promise<{ status: 'open' } | { status: number; body: string }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`, origin ? { origin } : {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.close();
      resolve({ status: 'open' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

describe('CORS_ORIGINS', () => {
  it('parses exact origins, any-port origins and *, and names a bad entry', () => {
    const p = parseOriginList(' https://app.example.com , http://localhost:* ');
    expect(p.entries).toEqual(['https://app.example.com', 'http://localhost:*']);
    expect(p.allows('https://app.example.com')).toBe(true);
    expect(p.allows('https://app.example.com:8443')).toBe(false);
    expect(p.allows('http://app.example.com')).toBe(false);
    expect(p.allows('http://localhost:5173')).toBe(true);
    expect(p.allows('http://localhost')).toBe(true);
    expect(p.allows('https://localhost:5173')).toBe(false);
    expect(p.allows('null')).toBe(false);
    // A page of the server's own origin (a same-origin proxy) needs no entry.
    expect(p.allows('http://chat.example.com', 'chat.example.com')).toBe(true);
    expect(p.allows('http://chat.example.com', 'api.example.com')).toBe(false);
    expect(parseOriginList('*').allows('null')).toBe(true);
    expect(parseOriginList('').allows('http://localhost:3000')).toBe(false);

    expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrow(ConfigError);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://ok.example.com,app.example.com' })).toThrow(
      /^invalid environment variable CORS_ORIGINS: 'app.example.com' is not an origin/,
    );
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: '*,https://app.example.com' })).toThrow(/CORS_ORIGINS: '\*' allows every origin/);
    expect(loadConfig({}).corsOrigins).toEqual(['http://localhost:*', 'http://127.0.0.1:*']);
    expect(loadConfig({ DATABASE_URL: 'postgres://db.example/x' }).corsOrigins).toEqual([]);
    expect(loadConfig({ DATABASE_URL: 'postgres://db.example/x', CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });
});

describe('CORS over HTTP', () => {
  it('answers an allowed preflight with 204, the methods, the headers and a max age', async () => {
    const res = await preflight(listed, APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('vary')).toMatch(/Origin/);
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toEqual(expect.arrayContaining(['GET', 'POST']));
    const headers = res.headers.get('access-control-allow-headers')!.toLowerCase().split(',');
    expect(headers).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    expect(res.headers.get('access-control-max-age')).toBe(String(PREFLIGHT_MAX_AGE_S));
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    // A preflight is answered before any route: a path with no procedure or route behind it (404 to a plain OPTIONS) too.
    for (const path of ['/trpc/nothing.here', '/api/nothing/here']) expect((await preflight(listed, APP, path)).status, path).toBe(204);
  });

  it('answers an OPTIONS from an allowed origin without Access-Control-Request-Method as a plain OPTIONS, not a preflight', async () => {
    const options = async (path: string) => {
      const r = await fetch(`${listed.url}${path}`, { method: 'OPTIONS', headers: { origin: APP } });
      return { status: r.status, allow: r.headers.get('allow'), origin: r.headers.get('access-control-allow-origin'), methods: r.headers.get('access-control-allow-methods'), body: await r.text() };
    };
    expect(await options('/api/auth/me')).toEqual({ status: 204, allow: 'GET, HEAD, OPTIONS', origin: APP, methods: null, body: '' });
    expect(await options('/trpc/auth.me')).toEqual({ status: 204, allow: 'GET, HEAD, OPTIONS', origin: APP, methods: null, body: '' });
    const missing = await options('/api/nothing/here');
    expect([missing.status, missing.origin, JSON.parse(missing.body).code]).toEqual([404, APP, 'NOT_FOUND']);
  });

  it('lets an allowed page read a signed-in call, and keeps the response from other pages', async () => {
    const { token } = await signUpClient(listed.url, 'cors');
    const call = (origin?: string) =>
      fetch(`${listed.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}`, ...(origin ? { origin } : {}) } });

    const allowed = await call(APP);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(((await allowed.json()) as { result: { data: { json: { displayName: string } } } }).result.data.json.displayName).toBe('cors');

    // Not allowed: served without CORS headers, so a browser keeps the body from the page.
    const other = await call(EVIL);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // No Origin (a server, the CLI): untouched.
    const none = await call();
    expect(none.status).toBe(200);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a preflight from an origin that is not listed with 403 and says which setting allows it', async () => {
    const res = await preflight(listed, EVIL);
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('FORBIDDEN');
    expect(body.message).toMatch(/is not allowed: add it to CORS_ORIGINS/);
  });

  it('with *, answers every origin with Access-Control-Allow-Origin: *', async () => {
    const res = await preflight(open, EVIL);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const health = await fetch(`${open.url}/healthz`, { headers: { origin: EVIL } });
    expect(health.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('allows no origin by default in service mode, and localhost on any port in embedded mode', async () => {
    expect((await preflight(services, 'http://localhost:5173')).status).toBe(403);
    const local = await preflight(embedded, 'http://localhost:5173');
    expect(local.status).toBe(204);
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect((await preflight(embedded, 'http://127.0.0.1:4000')).status).toBe(204);
    expect((await preflight(embedded, EVIL)).status).toBe(403);
  });
});

describe('the Origin of WebSocket upgrades', () => {
  it('opens for an allowed origin and for a client that sends none', async () => {
    expect(await upgrade(listed, APP)).toEqual({ status: 'open' });
    expect(await upgrade(listed)).toEqual({ status: 'open' });
    expect(await upgrade(services)).toEqual({ status: 'open' });
    expect(await upgrade(open, EVIL)).toEqual({ status: 'open' });
    expect(await upgrade(embedded, 'http://127.0.0.1:5173')).toEqual({ status: 'open' });
  });

  it('refuses a disallowed origin with 403 before any tRPC frame', async () => {
    const refused = await upgrade(listed, EVIL);
    expect(refused).toMatchObject({ status: 403 });
    expect((refused as { body: string }).body).toMatch(/is not allowed: add it to CORS_ORIGINS/);
    expect(await upgrade(services, 'http://localhost:5173')).toMatchObject({ status: 403 });
    expect(await upgrade(embedded, EVIL)).toMatchObject({ status: 403 });
  });

  it('a refused upgrade leaves the server serving others', async () => {
    await upgrade(listed, EVIL);
    expect((await fetch(`${listed.url}/healthz`)).status).toBe(200);
    expect(await upgrade(listed, APP)).toEqual({ status: 'open' });
  });
});

describe('the embedded file store (browser uploads go to it directly)', () => {
  /** A presigned POST for a 5-byte text file in a fresh room on `server`. */
  async function ticket(server: GuildhallServer) {
    const { client } = await signUpClient(server.url, 'uploader');
    const community = await client.scopes.create.mutate({ kind: 'community', name: 'Files' });
    return client.media.createUpload.mutate({ scopeId: community.id, filename: 'a.txt', contentType: 'text/plain', size: 5 });
  }
  const storePreflight = (url: string, origin: string) =>
    fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });

  it('allows the CORS_ORIGINS to POST an upload and read the answer, and no other origin', async () => {
    const t = await ticket(listed);
    const ok = await storePreflight(t.url, APP);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    expect((await storePreflight(t.url, EVIL)).status).toBe(403);

    const form = new FormData();
    for (const [k, v] of Object.entries(t.fields)) form.append(k, v);
    form.append('file', new Blob(['hello'], { type: 'text/plain' }), 'a.txt');
    const posted = await fetch(t.url, { method: 'POST', body: form, headers: { origin: APP } });
    expect(posted.ok).toBe(true);
    expect(posted.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('allows no origin when CORS_ORIGINS allows none (service mode default)', async () => {
    const t = await ticket(services);
    expect((await storePreflight(t.url, APP)).status).toBe(403);
  });
});
