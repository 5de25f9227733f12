import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createTestDatabase } from '../helpers/db.js';
import { REDIS_URL } from '../helpers/env.js';
import { collect } from '../helpers/subscribe.js';
import { closeClient, createClient, testPrefix } from '../helpers/server.js';
import { loadConfig } from '../../src/config.js';
import { createServer, type GuildhallServer } from '../../src/server.js';

/** Every JSON line the server logged, as objects. */
const lines: Record<string, unknown>[] = [];
const waiting: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const l of String(chunk).split('\n')) {
      if (!l.trim()) continue;
      const line = JSON.parse(l) as Record<string, unknown>;
      lines.push(line);
      for (const w of waiting.splice(0).filter((w) => !(w.match(line) && (w.resolve(line), true)))) waiting.push(w);
    }
    done();
  },
});
/** The next line logged that `match` accepts. */
const nextLine = (match: (l: Record<string, unknown>) => boolean) => new Promise<Record<string, unknown>>((resolve) => waiting.push({ match, resolve }));
const METRICS_TOKEN = 'metrics-token-for-the-test';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await createServer(
    {
      ...loadConfig({ MESSAGE_SEND_RATE: '1000000/1', METRICS_TOKEN }),
      port: 0,
      host: '127.0.0.1',
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      redisPrefix: testPrefix(),
    },
    pino({ level: 'info' }, sink),
  );
});
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
});

const calls = () => lines.filter((l) => l.msg === 'call');
const rest = async (method: string, path: string, token?: string, body?: unknown) => {
  const res = await fetch(`${server.url}/api${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
};
const metricsText = async () => {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
};
/** The value of one sample line, e.g. `guildhall_messages_sent_total`; NaN when absent. */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : NaN;
};

describe('request logs: one pino line per call', () => {
  let token: string;
  let userId: string;
  let scopeId: string;

  it('logs REST calls with request id, procedure, transport, user id, ms and code, and never a token or a body', async () => {
    const email = `ops-${randomUUID()}@example.com`;
    const up = await rest('POST', '/auth/sign-up', undefined, { email, password: 'correct horse battery', displayName: 'ops' });
    token = up.body.token;
    userId = up.body.user.id;
    const community = await rest('POST', '/scopes', token, { kind: 'community', name: 'Ops' });
    scopeId = community.body.id;
    await rest('POST', `/scopes/${scopeId}/messages`, token, { body: 'a secret body' });
    const missing = await rest('GET', `/scopes/${randomUUID()}`, token);
    expect(missing.status).toBe(404);

    const signUp = calls().find((l) => l.procedure === 'auth.signUp')!;
    expect(signUp).toMatchObject({ level: 30, transport: 'rest', userId: null, code: 'OK', requestId: expect.any(String), ms: expect.any(Number) });
    const send = calls().find((l) => l.procedure === 'messages.send')!;
    expect(send).toMatchObject({ level: 30, transport: 'rest', userId, code: 'OK' });
    // A client error is logged at info with its code.
    expect(calls().find((l) => l.procedure === 'scopes.get')).toMatchObject({ level: 30, code: 'NOT_FOUND', userId });
    const all = JSON.stringify(lines);
    expect(all).not.toContain(token);
    expect(all).not.toContain('a secret body');
    expect(all).not.toContain('correct horse battery');
  });

  it('logs each call of an HTTP batch and each WebSocket call, with its own request id', async () => {
    const client = createClient({ url: server.url, token });
    try {
      const before = calls().length;
      // Two queries in one tick: one HTTP batch with two calls.
      await Promise.all([client.auth.me.query(), client.scopes.get.query({ scopeId })]);
      const batch = calls().slice(before).filter((l) => l.transport === 'http');
      expect(batch.map((l) => l.procedure).sort()).toEqual(['auth.me', 'scopes.get']);
      expect(batch.every((l) => l.userId === userId && l.code === 'OK')).toBe(true);

      const sub = collect<unknown>((h) => client.messages.onEvent.subscribe({ scopeId }, h));
      await sub.started;
      const ws = calls().find((l) => l.transport === 'ws' && l.procedure === 'messages.onEvent')!;
      expect(ws).toMatchObject({ level: 30, userId, code: 'OK', connectionId: expect.any(String) });
      expect(ws.requestId).not.toBe(ws.connectionId);
      await client.messages.send.mutate({ scopeId, body: 'live' });
      await sub.until(1);

      // The metrics saw the socket, the subscription and the delivery.
      const text = await metricsText();
      expect(sample(text, 'guildhall_websocket_connections')).toBe(1);
      expect(sample(text, 'guildhall_websocket_subscriptions')).toBe(1);
      expect(sample(text, 'guildhall_fanout_deliveries_total')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'guildhall_fanout_delivery_latency_seconds_count')).toBeGreaterThanOrEqual(1);
      sub.stop();
    } finally {
      closeClient(client);
    }
  });

  it('logs a server error at error level', async () => {
    const original = server.services.messages.listAsMember;
    server.services.messages.listAsMember = async () => {
      throw new Error('the disk is on fire');
    };
    try {
      const r = await rest('GET', `/scopes/${scopeId}/messages`, token);
      expect(r.status).toBe(500);
      expect(r.body.message).toMatch(/^internal server error \(request /);
    } finally {
      server.services.messages.listAsMember = original;
    }
    expect(calls().find((l) => l.procedure === 'messages.list')).toMatchObject({ level: 50, code: 'INTERNAL_SERVER_ERROR', transport: 'rest' });
  });

  it('gives every HTTP response an x-request-id, the one of its log lines: REST and tRPC errors (a 500 too), successes, and requests that reached no procedure', async () => {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const linesOf = (id: string | null) => lines.filter((l) => l.requestId === id);
    const original = server.services.messages.listAsMember;
    server.services.messages.listAsMember = async () => {
      throw new Error('the disk is on fire');
    };
    try {
      // REST 500: the id in the header, in the message and in both log lines (the call and the stack).
      const rest500 = await fetch(`${server.url}/api/scopes/${scopeId}/messages`, { headers: { authorization: `Bearer ${token}` } });
      const id = rest500.headers.get('x-request-id');
      expect(id).toMatch(UUID);
      expect(((await rest500.json()) as { message: string }).message).toBe(`internal server error (request ${id})`);
      expect(linesOf(id).map((l) => l.msg).sort()).toEqual(['call', 'procedure failed']);
      // The same over /trpc.
      const input = encodeURIComponent(JSON.stringify({ json: { scopeId } }));
      const trpc500 = await fetch(`${server.url}/trpc/messages.list?input=${input}`, { headers: { authorization: `Bearer ${token}` } });
      expect(trpc500.status).toBe(500);
      const trpcId = trpc500.headers.get('x-request-id');
      expect(trpcId).toMatch(UUID);
      expect(JSON.stringify(await trpc500.json())).toContain(`internal server error (request ${trpcId})`);
      expect(linesOf(trpcId).map((l) => l.msg).sort()).toEqual(['call', 'procedure failed']);
    } finally {
      server.services.messages.listAsMember = original;
    }
    // A sane id the client sent is kept (a proxy's or a client's own), in the header and the log.
    const own = await fetch(`${server.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'client-req_42.a:b' } });
    expect([own.status, own.headers.get('x-request-id')]).toEqual([200, 'client-req_42.a:b']);
    expect(linesOf('client-req_42.a:b')).toMatchObject([{ msg: 'call', procedure: 'auth.me', code: 'OK' }]);
    // One that is not (spaces, quotes, over 128 characters) is replaced by a fresh id.
    for (const bad of ['two words', '"quoted"', 'x'.repeat(129)]) {
      const r = await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': bad } });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-request-id'), bad).toMatch(UUID);
      expect(linesOf(r.headers.get('x-request-id'))).toMatchObject([{ msg: 'call', procedure: 'auth.me', transport: 'rest' }]);
    }
    // Requests that reached no procedure, and those outside tRPC and REST.
    for (const path of ['/trpc/no.such.procedure', '/api/nowhere', '/nowhere', '/healthz']) {
      const r = await fetch(`${server.url}${path}`);
      expect(r.headers.get('x-request-id'), path).toMatch(UUID);
      if (path.startsWith('/trpc') || path.startsWith('/api')) expect(linesOf(r.headers.get('x-request-id')), path).toMatchObject([{ msg: 'call', procedure: path === '/api/nowhere' ? null : 'no.such.procedure' }]);
    }
  });

  it('logs a request that reached no procedure', async () => {
    await fetch(`${server.url}/api/nowhere`);
    await fetch(`${server.url}/trpc/no.such.procedure`);
    expect(calls().find((l) => l.transport === 'rest' && l.procedure === null)).toMatchObject({ level: 30, code: 'NOT_FOUND' });
    expect(calls().find((l) => l.transport === 'http' && l.procedure === 'no.such.procedure')).toMatchObject({ level: 30, code: 'NOT_FOUND' });
  });

  it('logs a REST client that went away before its body arrived as a call at info (CLIENT_CLOSED_REQUEST), not as a server error', async () => {
    const { hostname, port } = new URL(server.url);
    const logged = nextLine((l) => l.msg === 'REST request failed' || (l.msg === 'call' && l.transport === 'rest' && l.code === 'CLIENT_CLOSED_REQUEST'));
    const socket = net.connect(Number(port), hostname);
    await once(socket, 'connect');
    socket.write('POST /api/auth/sign-in HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"email":', () => socket.destroy());
    expect(await logged).toMatchObject({ level: 30, msg: 'call', procedure: null, code: 'CLIENT_CLOSED_REQUEST' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('logs the requests tRPC refuses before any procedure (a batch over the limit, mixed types, a bad path, streaming unbatched, a method, a body that is not JSON, no path), with their request ids', async () => {
    const refused: [string, RequestInit | undefined, string][] = [
      [`/trpc/${Array.from({ length: 51 }, () => 'auth.me').join(',')}?batch=1`, undefined, 'BAD_REQUEST'],
      ['/trpc/auth.me,messages.send?batch=1', undefined, 'BAD_REQUEST'],
      ['/trpc/%ZZ', undefined, 'BAD_REQUEST'],
      ['/trpc/auth.me', { headers: { 'trpc-accept': 'application/jsonl' } }, 'BAD_REQUEST'],
      ['/trpc/auth.me', { method: 'PUT' }, 'METHOD_NOT_SUPPORTED'],
      ['/trpc/auth.signIn', { method: 'POST', body: '{}' }, 'UNSUPPORTED_MEDIA_TYPE'],
      ['/trpc/', undefined, 'NOT_FOUND'],
    ];
    for (const [path, init, code] of refused) {
      const r = await fetch(`${server.url}${path}`, init);
      const id = r.headers.get('x-request-id');
      expect(lines.filter((l) => l.requestId === id), path).toMatchObject([{ msg: 'call', procedure: null, transport: 'http', code }]);
    }
  });
});

describe('/metrics', () => {
  it('needs the METRICS_TOKEN', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('exposes Node defaults, calls by procedure and code, messages, the pool, bus failures, gap repairs and reminders', async () => {
    const text = await metricsText();
    expect(text).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    expect(sample(text, 'guildhall_calls_total{procedure="auth.signUp",transport="rest",code="OK"}')).toBe(1);
    expect(sample(text, 'guildhall_calls_total{procedure="scopes.get",transport="rest",code="NOT_FOUND"}')).toBe(1);
    expect(text).toMatch(/^guildhall_call_duration_seconds_bucket\{le="0\.005",procedure="messages\.send",transport="rest",code="OK"\} \d+$/m);
    expect(sample(text, 'guildhall_messages_sent_total')).toBe(2);
    for (const name of ['guildhall_db_pool_connections_in_use', 'guildhall_db_pool_waiting', 'guildhall_event_reminders_fired_total', 'guildhall_realtime_resyncs_total']) {
      expect(sample(text, name), name).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'guildhall_bus_publish_failures_total')).toBe(0);
  });

  it('counts a lost publish and the gap it leaves', async () => {
    const client = createClient({ url: server.url, token: await tokenOf() });
    try {
      const scope = await client.scopes.create.mutate({ kind: 'community', name: 'Gaps' });
      const sub = collect<unknown>((h) => client.messages.onEvent.subscribe({ scopeId: scope.id }, h));
      await sub.started;
      const repairsBefore = sample(await metricsText(), 'guildhall_realtime_gap_repairs_total');
      let dropped = false;
      server.services.hub.dropPublish = () => !dropped && (dropped = true);
      await client.messages.send.mutate({ scopeId: scope.id, body: 'lost on the bus' });
      server.services.hub.dropPublish = null;
      await client.messages.send.mutate({ scopeId: scope.id, body: 'reveals the gap' });
      await sub.until(2);
      expect(sample(await metricsText(), 'guildhall_realtime_gap_repairs_total')).toBe(repairsBefore + 1);
      sub.stop();
    } finally {
      closeClient(client);
    }
  });
});

async function tokenOf(): Promise<string> {
  const up = await rest('POST', '/auth/sign-up', undefined, { email: `gap-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: 'gap' });
  return up.body.token;
}
