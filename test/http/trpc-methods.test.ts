import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/db.js';
import { signUpClient, startServer, testPrefix } from '../helpers/server.js';

/**
 * What /trpc answers to the methods and content types tRPC's handler does not expect: each
 * is a JSON error in tRPC's shape with the right status and an `allow` header where one
 * belongs, and a HEAD is a GET without its body.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  ({ token } = await signUpClient(server.url, 'methods'));
}, 60_000);
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
});

async function call(path: string, init?: RequestInit) {
  const r = await fetch(server.url + path, init);
  const body = await r.text();
  return { status: r.status, type: r.headers.get('content-type'), allow: r.headers.get('allow'), length: r.headers.get('content-length'), body };
}
const errorOf = (body: string) => (JSON.parse(body) as { error: { json: { message: string; data: { code: string; httpStatus: number } } } }).error.json;

describe('tRPC over HTTP: methods and content types', () => {
  it('answers OPTIONS (no preflight) with 204 and the methods its procedure is served with', async () => {
    const cases: [string, string][] = [
      ['/trpc/auth.me', 'GET, HEAD, OPTIONS'],
      ['/trpc/messages.send', 'POST, OPTIONS'],
      ['/trpc/messages.onEvent', 'GET, OPTIONS'],
      ['/trpc/auth.me,scopes.tree?batch=1', 'GET, HEAD, OPTIONS'],
      // Types mixed: tRPC refuses that batch whatever the method.
      ['/trpc/auth.me,messages.send?batch=1', 'GET, HEAD, POST, OPTIONS'],
    ];
    for (const [path, allow] of cases) expect(await call(path, { method: 'OPTIONS' }), path).toMatchObject({ status: 204, allow, body: '' });
  });

  it('answers OPTIONS of a path that names no procedure with 404, as its GET, and of a batch naming one with 204', async () => {
    for (const path of ['/trpc/nothing.here', '/trpc/nothing,here.either?batch=1']) {
      const [get, options] = [await call(path), await call(path, { method: 'OPTIONS' })];
      expect([get.status, options.status, options.type], path).toEqual([404, 404, 'application/json']);
      expect(errorOf(options.body), path).toMatchObject({ data: { code: 'NOT_FOUND', httpStatus: 404 } });
    }
    expect((await call('/trpc/auth.me,nothing.here?batch=1', { method: 'OPTIONS' })).status).toBe(204);
  });

  it.each(['PUT', 'DELETE', 'PATCH'])('refuses %s with 405, JSON and the methods it serves', async (method) => {
    const r = await call('/trpc/auth.me', { method, headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r).toMatchObject({ status: 405, type: 'application/json', allow: 'GET, HEAD, OPTIONS' });
    expect(errorOf(r.body)).toMatchObject({ data: { code: 'METHOD_NOT_SUPPORTED', httpStatus: 405 } });
    expect(errorOf(r.body).message).toContain(`${method} is not served on /trpc`);
  });

  it.each([
    ['no content type', {}],
    ['text/plain', { 'content-type': 'text/plain' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }],
    ['octet-stream', { 'content-type': 'application/octet-stream' }],
  ])('refuses a POST with %s with 415 in JSON, naming the content type to send', async (_what, headers: Record<string, string>) => {
    const r = await call('/trpc/auth.signIn', { method: 'POST', headers, body: '{"json":{}}' });
    expect(r).toMatchObject({ status: 415, type: 'application/json' });
    expect(errorOf(r.body)).toMatchObject({ data: { code: 'UNSUPPORTED_MEDIA_TYPE', httpStatus: 415 } });
    expect(errorOf(r.body).message).toContain('Content-Type: application/json');
  });

  it.each([
    ['a batch mixing a query and a mutation', '/trpc/auth.me,auth.signOut?batch=1', {}, 400],
    ['a batch over the limit', `/trpc/${Array.from({ length: 51 }, () => 'auth.me').join(',')}?batch=1`, {}, 400],
    ['a path with a broken %-escape', '/trpc/%ZZ', {}, 400],
    ['a GET labelled multipart', '/trpc/auth.me', { 'content-type': 'multipart/form-data; boundary=x' }, 405],
    ['a streaming call not batched', '/trpc/auth.me', { 'trpc-accept': 'application/jsonl' }, 400],
  ])('labels what tRPC refuses before any procedure (%s) as the JSON it is', async (_what, path, headers: Record<string, string>, status) => {
    const r = await call(path, { headers });
    expect(r).toMatchObject({ status, type: 'application/json' });
    expect(errorOf(r.body).data.httpStatus).toBe(status);
  });

  it('refuses a POST to a subscription with 405 and its methods in allow, as JSON, not as an event stream', async () => {
    for (const [path, allow] of [['/trpc/me.onEvent', 'GET, OPTIONS'], ['/trpc/auth.me,me.onEvent?batch=1', 'GET, HEAD, POST, OPTIONS']]) {
      const r = await call(path!, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}' });
      expect(r, path).toMatchObject({ status: 405, allow, type: 'application/json' });
      expect(JSON.parse(r.body).error.json.message, path).toMatch(/subscriptions are GET \(server-sent events\) or WebSocket/);
    }
  });

  it('refuses a POST to queries with 405 and the methods of a query in allow', async () => {
    for (const path of ['/trpc/auth.me', '/trpc/auth.me,scopes.tree?batch=1']) {
      const r = await call(path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}' });
      expect(r, path).toMatchObject({ status: 405, allow: 'GET, HEAD, OPTIONS', type: 'application/json' });
      expect(errorOf(r.body), path).toMatchObject({ data: { code: 'METHOD_NOT_SUPPORTED', httpStatus: 405 } });
    }
  });

  it('still takes a POST of JSON with a charset', async () => {
    const r = await call('/trpc/auth.signIn', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"json":{"email":"nobody@example.com","password":"wrong password"}}' });
    expect(r.status).toBe(401);
  });

  it('answers a HEAD of a query as its GET, without the body', async () => {
    for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const get = await call('/trpc/auth.me', { headers });
      const head = await call('/trpc/auth.me', { method: 'HEAD', headers });
      expect(head).toEqual({ ...get, body: '' });
    }
    expect((await call('/trpc/auth.me', { method: 'HEAD' })).status).toBe(401);
  });

  it('reads the path of a HEAD as tRPC reads a GET: slashes around it trimmed, %-escapes decoded', async () => {
    const headers = { authorization: `Bearer ${token}` };
    for (const path of ['/trpc/auth.me/', '/trpc/auth%2Eme', '/trpc/auth.me/?input=%7B%7D', '/trpc/auth.me/?batch=1&input=%7B%7D']) {
      const get = await call(path, { headers });
      const head = await call(path, { method: 'HEAD', headers });
      expect(get.status, path).toBe(200);
      expect(head, path).toEqual({ ...get, body: '' });
    }
  });

  it('answers a HEAD as its GET where no mutation or subscription is named alone: an unknown path, a batch with one, a batch mixing types', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const cases = [
      ['/trpc/nothing.here', 404],
      ['/trpc/auth.me,nothing.here?batch=1', 207],
      ['/trpc/auth.me,auth.signIn?batch=1', 400],
      ['/trpc/%ZZ', 400],
    ] as const;
    for (const [path, status] of cases) {
      const get = await call(path, { headers });
      const head = await call(path, { method: 'HEAD', headers });
      expect(get.status, path).toBe(status);
      expect(head, path).toEqual({ ...get, body: '' });
    }
  });

  it('refuses a HEAD of a mutation or a subscription with 405 and its method, at once', async () => {
    const cases = [
      ['/trpc/auth.signIn', 405, 'POST, OPTIONS'],
      ['/trpc/me.onEvent', 405, 'GET, OPTIONS'],
      ['/trpc/auth.signIn,nothing.here?batch=1', 405, 'POST, OPTIONS'],
    ] as const;
    for (const [path, status, allow] of cases) {
      const r = await call(path, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
      expect(r, path).toMatchObject({ status, allow, type: 'application/json', body: '' });
    }
  });
});
