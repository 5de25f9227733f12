import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase } from './helpers/db.js';
import { codeOf } from './helpers/errors.js';
import { freePort } from './helpers/process.js';
import { rawSocket } from './helpers/ws-client.js';
import { signUpClient, startServer, testPrefix, closeClient } from './helpers/server.js';
import { limits, loadConfig, ConfigError } from '../src/config.js';
import { createServer, type GuildhallServer } from '../src/server.js';
import pino from 'pino';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
});
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
});

const closed = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));
const nextMessage = (ws: WebSocket) => new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));

describe('health and readiness', () => {
  it('answers /healthz and /readyz with 200 when the database and Redis answer', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, database: true, redis: true });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('answers /readyz with 503 while its Redis is down, and 200 again when it is back', async () => {
    const port = await freePort();
    const startRedis = () => {
      const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'pipe' });
      return new Promise<typeof p>((resolve) => {
        p.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('Ready to accept connections')) resolve(p);
        });
      });
    };
    let redis = await startRedis();
    const config = { ...loadConfig({}), port: 0, host: '127.0.0.1', databaseUrl: db.url, redisUrl: `redis://127.0.0.1:${port}`, redisPrefix: testPrefix() };
    const own = await createServer(config, pino({ level: 'silent' }));
    try {
      expect((await fetch(`${own.url}/readyz`)).status).toBe(200);
      const gone = new Promise((r) => redis.once('exit', r));
      redis.kill('SIGKILL');
      await gone;
      const down = await fetch(`${own.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ ok: false, database: true, redis: false });
      expect((await fetch(`${own.url}/healthz`)).status).toBe(200);
      // Ready again once the server's Redis client has reconnected (its 'ready' event; its
      // retry waits grow with each failed attempt, so a count of requests is no measure).
      const client = own.services.redis!;
      const reconnected = new Promise((r) => client.once('ready', r));
      redis = await startRedis();
      await reconnected;
      expect((await fetch(`${own.url}/readyz`)).status).toBe(200);
    } finally {
      await own.close(100);
      redis.kill('SIGKILL');
    }
  });
});

describe('HTTP errors outside the procedures', () => {
  it('an unknown path and a request whose headers are too large both answer { code, message }', async () => {
    const missing = await fetch(`${server.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ code: 'NOT_FOUND', message: expect.stringMatching(/tRPC is served at \/trpc, REST at \/api/) });
    // Node refuses headers over 16 KiB before any route runs; a 64 KiB query string is one.
    const huge = await fetch(`${server.url}/api/events/instances?scopeId=${'x'.repeat(65_536)}`);
    expect(huge.status).toBe(431);
    expect(await huge.json()).toEqual({ code: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: expect.stringMatching(/16 KiB/) });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('WebSocket upgrades that cannot be served', () => {
  /** The raw answer to one upgrade request: its status line, content type and body. */
  async function upgradeAnswer(path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; type: string | undefined; allow: string | undefined; body: string }> {
    const { hostname: host, port } = new URL(server.url);
    const socket = net.connect(Number(port), host);
    await once(socket, 'connect');
    const lines = Object.entries({ host: `${host}:${port}`, connection: 'Upgrade', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.end(`${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
    const chunks: Buffer[] = [];
    for await (const c of socket) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const [head, body = ''] = text.split('\r\n\r\n');
    return { status: Number(head!.split(' ')[1]), type: /content-type: ([^\r]+)/i.exec(head!)?.[1], allow: /allow: ([^\r]+)/i.exec(head!)?.[1], body };
  }
  const ws = { upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

  it('answers each with a status and a JSON { code, message } that says what to send', async () => {
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['/elsewhere', ws, 404, /WebSocket is served at \/trpc/],
      ['/trpc', { ...ws, upgrade: 'websocket, h2c' }, 400, /^the Upgrade header must be websocket alone \(it was "websocket, h2c"\)$/],
      ['/trpc', { upgrade: 'websocket', 'sec-websocket-version': '13' }, 400, /Sec-WebSocket-Key/],
      ['/trpc', { ...ws, 'sec-websocket-version': '7' }, 400, /Sec-WebSocket-Version/],
    ];
    for (const [path, headers, status, message] of cases) {
      const r = await upgradeAnswer(path, headers);
      expect([r.status, r.type], `${path} ${JSON.stringify(headers)}`).toEqual([status, 'application/json']);
      expect(JSON.parse(r.body)).toEqual({ code: status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: expect.stringMatching(message) });
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('answers a request pipelined before the handshake first, then switches protocols', async () => {
    const { hostname: host, port } = new URL(server.url);
    const socket = net.connect(Number(port), host);
    let got = '';
    const switched = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('101 Switching Protocols')) resolve();
      }),
    );
    const upgrade = Object.entries({ connection: 'Upgrade', ...ws }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`GET /trpc/auth.me HTTP/1.1\r\nhost: x\r\n\r\nGET /trpc HTTP/1.1\r\nhost: x\r\n${upgrade}\r\n`);
    await switched;
    socket.destroy();
    expect([...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([401, 101]);
  });

  it('survives clients that reset the connection right after pipelining a request and a handshake', async () => {
    const { hostname: host, port } = new URL(server.url);
    const upgrade = Object.entries({ connection: 'Upgrade', ...ws }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const h2cOffer = 'connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';
    for (let i = 0; i < 200; i++) {
      const socket = net.connect(Number(port), host);
      await once(socket, 'connect');
      socket.write(`GET /trpc/auth.me HTTP/1.1\r\nhost: x\r\n\r\nGET /trpc HTTP/1.1\r\nhost: x\r\n${i % 2 ? upgrade : h2cOffer}\r\n`);
      // Reset (RST) once the server has read the requests, while the first answer may be on its way.
      setImmediate(() => socket.resetAndDestroy());
      await once(socket, 'close');
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('names the versions it speaks in the message, as in its Sec-WebSocket-Version header, and opens a socket for either', async () => {
    const { hostname: host, port } = new URL(server.url);
    const socket = net.connect(Number(port), host);
    await once(socket, 'connect');
    socket.end(`GET /trpc HTTP/1.1\r\nhost: ${host}:${port}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: ${ws['sec-websocket-key']}\r\nsec-websocket-version: 7\r\n\r\n`);
    const chunks: Buffer[] = [];
    for await (const c of socket) chunks.push(c as Buffer);
    const [head, body] = Buffer.concat(chunks).toString().split('\r\n\r\n');
    expect(/sec-websocket-version: ([^\r]+)/i.exec(head!)?.[1]).toBe('13, 8');
    expect(JSON.parse(body!).message).toBe('the WebSocket handshake needs Sec-WebSocket-Version: 13 (RFC 6455), or 8 (its drafts 8 to 12)');
    for (const protocolVersion of [13, 8]) {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`, { protocolVersion });
      await once(socket, 'open');
      const code = closed(socket);
      socket.close();
      await code;
    }
  });

  it('answers a HEAD handshake with the status and headers of its refusal and no body (RFC 9110 §9.3.2)', async () => {
    expect(await upgradeAnswer('/trpc', ws, 'HEAD')).toEqual({ status: 405, type: 'application/json', allow: 'GET', body: '' });
    expect(await upgradeAnswer('/elsewhere', ws, 'HEAD')).toEqual({ status: 404, type: 'application/json', allow: undefined, body: '' });
  });
});

describe('requests offering an Upgrade other than websocket', () => {
  /** What `curl --http2 http://…` adds to each request: an offer of h2c, which a server may ignore (RFC 9110 §7.8). */
  const h2c = { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQCAAAAAAIAAAAA' };
  /** One request with node:http (fetch refuses Connection and Upgrade): status, content type, body, and whether the agent reused a socket. */
  function request(path: string, o: { method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent | false }) {
    return new Promise<{ status: number; type: string | undefined; body: string; reused: boolean }>((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { method: o.method ?? 'GET', headers: o.headers, agent: o.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: Buffer.concat(chunks).toString(), reused: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end(o.body);
    });
  }

  it('serves them as plain HTTP/1.1, as without the offer, on every path (the WebSocket path too)', async () => {
    const u = await signUpClient(server.url, 'h2c');
    const json = { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' };
    const cases: [string, string, string?][] = [
      ['GET', '/healthz'],
      ['GET', '/trpc'],
      ['GET', '/trpc/auth.me'],
      ['HEAD', '/trpc/auth.me'],
      ['GET', '/api/auth/me'],
      ['POST', '/api/scopes', JSON.stringify({ kind: 'community', name: 'over h2c' })],
      ['POST', '/api/auth/sign-in', JSON.stringify({ email: u.email, password: 'not the password' })],
      ['GET', '/nowhere'],
    ];
    for (const [method, path, body] of cases) {
      const plain = await request(path, { method, headers: json, body, agent: false });
      const offered = await request(path, { method, headers: { ...json, ...h2c }, body, agent: false });
      // A created scope has its own id and time: compare the rest.
      const same = (r: typeof plain) => ({ ...r, body: r.body.replace(/"(id|createdAt|updatedAt)":"[^"]*"/g, '"$1":"…"') });
      expect(same(offered), `${method} ${path}`).toEqual(same(plain));
    }
    expect((await request('/healthz', { headers: h2c })).body).toBe('{"ok":true}');
    closeClient(u.client);
  });

  it('keeps the connection for the next request, as any HTTP/1.1 answer', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request('/healthz', { headers: h2c, agent });
    const second = await request('/trpc/auth.me', { headers: h2c, agent });
    agent.destroy();
    expect([first.status, first.reused]).toEqual([200, false]);
    expect([second.status, second.type, second.reused]).toEqual([401, 'application/json', true]);
  });

  it('does not let the keep-alive timer of the answer before cut a request offering h2c that takes longer', async () => {
    const keepAlive = server.httpServer.keepAliveTimeout;
    server.httpServer.keepAliveTimeout = 200;
    try {
      const [host, port] = new URL(server.url).host.split(':') as [string, string];
      const offer = Object.entries(h2c).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      const body = JSON.stringify({ email: 'nobody@example.com', password: 'not the password' });
      const socket = net.connect(Number(port), host);
      let got = '';
      let first!: () => void;
      const answered = new Promise<void>((r) => (first = r));
      socket.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('{"ok":true}')) first();
      });
      const ended = once(socket, 'close');
      // A quick answer, then a POST offering h2c whose body comes after the keep-alive timeout.
      socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\n\r\nPOST /api/auth/sign-in HTTP/1.1\r\nhost: x\r\n${offer}content-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`);
      await answered;
      // The time under test: past the keep-alive of the answer already given (Node arms
      // keepAliveTimeout + 1 s on the socket: 1.2 s here).
      await new Promise((r) => setTimeout(r, 1_600));
      socket.write(body);
      await ended;
      expect([...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 401]);
    } finally {
      server.httpServer.keepAliveTimeout = keepAlive;
    }
  });

  it('answers every request pipelined on one socket, in order, whichever of them offer h2c', async () => {
    const [host, port] = new URL(server.url).host.split(':') as [string, string];
    const offer = Object.entries(h2c).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nhost: x\r\n${extra}\r\n`;
    const socket = net.connect(Number(port), host);
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    const ended = once(socket, 'end');
    // Plain, h2c, h2c, plain (the last closes): an h2c request came while an answer was on its way.
    socket.write(get('/healthz') + get('/trpc/auth.me', offer) + get('/api/auth/me', offer) + get('/healthz', 'connection: close\r\n'));
    await ended;
    socket.destroy();
    // Status lines (an answer's body is followed at once by the next status line).
    expect([...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 401, 401, 200]);
  });
});

describe('WebSocket transport', () => {
  it('closes only the socket whose first frame is malformed', async () => {
    const good = await signUpClient(server.url, 'good');
    const community = await good.client.scopes.create.mutate({ kind: 'community', name: 'c' });
    const bad = await rawSocket(server.url, '?connectionParams=1');
    const badFrame = nextMessage(bad);
    const badClosed = new Promise<[number, string]>((r) => bad.once('close', (code, reason) => r([code, reason.toString()])));
    bad.send('this is not json {');
    // An error frame, then the close, each saying what the first frame must be.
    const error = (JSON.parse(await badFrame) as { id: null; error: { json: { message: string; data: { code: string } } } }).error.json;
    expect([error.data.code, error.message]).toEqual([
      'PARSE_ERROR',
      'this socket was opened with ?connectionParams=1: its first frame must be {"method":"connectionParams","data":{"token":"…"}}, with the token from auth.signIn or null',
    ]);
    expect(await badClosed).toEqual([4400, 'the first frame must be {"method":"connectionParams","data":{"token":"…"}}']);
    // A call sent first, before the connectionParams, gets the same answer.
    const early = await rawSocket(server.url, '?connectionParams=1');
    const earlyClosed = new Promise<number>((r) => early.once('close', (code) => r(code)));
    early.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
    expect(await earlyClosed).toBe(4400);
    // A token that is not a string is named as the problem, not taken as "no token".
    const wrong = await rawSocket(server.url, '?connectionParams=1');
    const wrongClosed = new Promise<[number, string]>((r) => wrong.once('close', (code, reason) => r([code, reason.toString()])));
    wrong.send(JSON.stringify({ method: 'connectionParams', data: { token: 12345 } }));
    expect(await wrongClosed).toEqual([4400, 'connectionParams.token must be a string (the token from auth.signIn) or null']);
    // connectionParams that are not an object ({ token }) are refused, not taken as "no params".
    for (const data of [[], [1, 2], 'token', 5, true]) {
      const odd = await rawSocket(server.url, '?connectionParams=1');
      const oddClosed = new Promise<[number, string]>((r) => odd.once('close', (code, reason) => r([code, reason.toString()])));
      odd.send(JSON.stringify({ method: 'connectionParams', data }));
      expect(await oddClosed, JSON.stringify(data)).toEqual([4400, 'the first frame must be {"method":"connectionParams","data":{"token":"…"}}']);
    }
    // Another client's socket and the server are unaffected.
    const msg = await good.client.messages.send.mutate({ scopeId: community.id, body: 'still here' });
    expect(msg.seq).toBe(1);
    closeClient(good.client);
  });

  it('refuses at once a token that is not a token at all, and still takes a well-formed unknown one (answered UNAUTHORIZED on use)', async () => {
    /** Sends `data` as connectionParams; resolves with the error frame's message and the close code and reason. */
    const refused = async (data: unknown) => {
      const ws = await rawSocket(server.url, '?connectionParams=1');
      const frame = nextMessage(ws);
      const close = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
      ws.send(JSON.stringify({ method: 'connectionParams', data }));
      return { message: JSON.parse(await frame).error.json.message as string, close: await close };
    };
    const MALFORMED = 'connectionParams.token is malformed: expected the 43-character token from auth.signUp or auth.signIn';
    // `jq -r .token` of an error body prints "null"; a pasted header keeps its "Bearer ".
    for (const token of ['garbage', 'null', '', `Bearer ${'a'.repeat(43)}`, 'a'.repeat(42), 'é'.repeat(43)]) {
      const r = await refused({ token });
      expect(r.close, JSON.stringify(token)).toEqual([4400, MALFORMED]);
      expect(r.message).toBe(MALFORMED);
    }
    // A token of the right form that names no live session is still a socket without a
    // session (it may be one that expired a moment ago): its calls answer UNAUTHORIZED as before.
    const ws = await rawSocket(server.url, '?connectionParams=1');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: randomBytes(32).toString('base64url') } }));
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
    const error = JSON.parse(await reply).error.json;
    expect([error.data.code, error.message]).toEqual(['UNAUTHORIZED', 'your session has expired or was revoked; sign in again']);
    ws.close();
  });

  it('refuses connectionParams whose wire is not one it speaks, naming the field and the values it takes', async () => {
    const u = await signUpClient(server.url, 'wire');
    const WIRE = 'connectionParams.wire must be "compact" or "superjson" (the default when it is absent)';
    for (const wire of [5, 'Compact', 'binary', true, null]) {
      const ws = await rawSocket(server.url, '?connectionParams=1');
      const close = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
      ws.send(JSON.stringify({ method: 'connectionParams', data: { token: u.token, wire } }));
      expect(await close, JSON.stringify(wire)).toEqual([4400, WIRE]);
    }
    // Both values it speaks, and no value at all, are served.
    for (const data of [{ token: u.token, wire: 'compact' }, { token: u.token, wire: 'superjson' }, { token: u.token }]) {
      const ws = await rawSocket(server.url, '?connectionParams=1');
      ws.send(JSON.stringify({ method: 'connectionParams', data }));
      const reply = nextMessage(ws);
      ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
      expect(JSON.parse(await reply).result.data.json.id, JSON.stringify(data)).toBe(u.userId);
      ws.close();
    }
    closeClient(u.client);
  });

  it('closes a socket that sends a frame over maxPayload, and keeps serving', async () => {
    const ws = await rawSocket(server.url);
    const code = closed(ws);
    ws.send('x'.repeat(300 * 1024));
    expect(await code).toBe(1009); // "message too big"
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('answers a call it cannot read with an error under that call\'s own id, and still serves the others of the frame', async () => {
    const u = await signUpClient(server.url, 'wsbad');
    const ws = await rawSocket(server.url, '?connectionParams=1');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: u.token } }));
    const replies: { id: unknown; error?: { json: { message: string; data: { code: string } } }; result?: { data: { json: { id: string } } } }[] = [];
    let wake: (() => void) | null = null;
    ws.on('message', (d) => {
      replies.push(JSON.parse(String(d)));
      wake?.();
    });
    // Call 7 has no `input` key at all; call 8 is fine.
    ws.send(JSON.stringify([
      { id: 7, method: 'subscription', params: { path: 'messages.onEvent' } },
      { id: 8, method: 'query', params: { path: 'auth.me', input: { json: null } } },
    ]));
    while (replies.length < 2) await new Promise<void>((r) => (wake = r));
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(7)?.error?.json.data.code).toBe('PARSE_ERROR');
    expect(byId.get(7)?.error?.json.message).toMatch(/malformed call: expected \{ id, method, params: \{ path, input \} \}/);
    expect(byId.get(8)?.result?.data.json.id).toBe(u.userId);
    ws.close();
    closeClient(u.client);
  });

  it('answers connectionParams sent again, and an empty batch, with an error that says so, and keeps the socket', async () => {
    const u = await signUpClient(server.url, 'wsagain');
    const ws = await rawSocket(server.url, '?connectionParams=1');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: u.token } }));
    for (const [frame, message] of [
      [{ method: 'connectionParams', data: { token: null } }, /connectionParams are read once, from the first frame.*open a new socket/],
      [[], /an empty batch: send at least one call/],
    ] as const) {
      const reply = nextMessage(ws);
      ws.send(JSON.stringify(frame));
      const r = JSON.parse(await reply) as { id: unknown; error: { json: { message: string; data: { code: string } } } };
      expect([r.id, r.error.json.data.code], JSON.stringify(frame)).toEqual([null, 'BAD_REQUEST']);
      expect(r.error.json.message).toMatch(message);
    }
    // Still signed in as before.
    const me = nextMessage(ws);
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
    expect(JSON.parse(await me).result.data.json.id).toBe(u.userId);
    ws.close();
    closeClient(u.client);
  });

  it('closes the 21st socket of one user, and the 257th socket without a session from one address, with 4429', async () => {
    const u = await signUpClient(server.url, 'many');
    const open = async (token: string | null) => {
      const ws = await rawSocket(server.url, '?connectionParams=1');
      ws.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
      // A query answered means the server took the connection (and counted it).
      const reply = nextMessage(ws);
      ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
      await reply;
      return ws;
    };
    for (const [token, cap] of [[u.token, limits.wsConnectionsPerUser], [null, limits.wsAnonymousPerAddress]] as const) {
      const kept: WebSocket[] = [];
      for (let i = 0; i < cap; i++) kept.push(await open(token));
      const extra = await rawSocket(server.url, '?connectionParams=1');
      const code = closed(extra);
      extra.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
      expect(await code).toBe(4429);
      // The others are still served.
      const reply = nextMessage(kept[0]!);
      kept[0]!.send(JSON.stringify({ id: 2, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
      expect(JSON.parse(await reply).id).toBe(2);
      await Promise.all(kept.map((ws) => {
        const c = closed(ws);
        ws.close();
        return c;
      }));
    }
    closeClient(u.client);
  });

  it('takes 30 users behind one address (an office NAT) opening their sockets at the same moment', async () => {
    const users = await Promise.all(Array.from({ length: 30 }, (_, i) => signUpClient(server.url, `nat${i}`)));
    // Every socket is open, and so counted as not yet signed in, before any sends its connectionParams.
    const opened = await Promise.all(users.map(() => rawSocket(server.url, '?connectionParams=1').then((ws) => ({ ws, code: closed(ws) }))));
    const sockets = opened.map((o) => o.ws);
    const codes = opened.map((o) => o.code);
    const ids = await Promise.all(
      sockets.map((ws, i) => {
        const reply = Promise.race([nextMessage(ws), codes[i]!.then((code) => JSON.stringify({ closed: code }))]);
        ws.send(JSON.stringify({ method: 'connectionParams', data: { token: users[i]!.token } }));
        ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
        return reply.then((r) => {
          const m = JSON.parse(r) as { result?: { data: { json: { id: string } } }; closed?: number };
          return m.result?.data.json.id ?? `closed ${m.closed}`;
        });
      }),
    );
    expect(ids).toEqual(users.map((u) => u.userId));
    for (const ws of sockets) ws.close();
    expect(new Set(await Promise.all(codes))).toEqual(new Set([1005]));
    for (const u of users) closeClient(u.client);
  });

  it('answers queries over WebSocket with the token from connectionParams', async () => {
    const u = await signUpClient(server.url, 'wsq');
    const ws = await rawSocket(server.url, '?connectionParams=1');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: u.token } }));
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
    const body = JSON.parse(await reply);
    expect(body.result.data.json.id).toBe(u.userId);
    ws.close();
  });
});

describe('graceful shutdown', () => {
  it('tells WebSocket clients to reconnect, then closes', async () => {
    const own = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
    const ws = await rawSocket(own.url);
    const notice = nextMessage(ws);
    const done = own.close(2_000);
    expect(JSON.parse(await notice)).toEqual({ id: null, method: 'reconnect' });
    ws.close(); // a client reconnects elsewhere; the server waits for it to go
    await done;
    await expect(fetch(`${own.url}/healthz`)).rejects.toThrow();
  });
});

describe('configuration', () => {
  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/^invalid environment variable PORT: /);
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(/S3_BUCKET/);
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });
});

describe('abuse', () => {
  it('limits sign-in attempts per account with TOO_MANY_REQUESTS', async () => {
    const u = await signUpClient(server.url, 'target');
    const { createClient } = await import('../sdk/src/index.js');
    const anon = createClient({ url: server.url });
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 11; i++) codes.push(await codeOf(anon.auth.signIn.mutate({ email: u.email, password: `guess-${i}-wrong` })));
    expect(codes.slice(0, 10).every((c) => c === 'UNAUTHORIZED')).toBe(true);
    expect(codes[10]).toBe('TOO_MANY_REQUESTS');
    // Even the right password waits out the window: the guesser learns nothing.
    expect(await codeOf(anon.auth.signIn.mutate({ email: u.email, password: 'correct horse battery' }))).toBe('TOO_MANY_REQUESTS');
  });

  it('refuses an HTTP batch over 50 calls, a body over 1 MB and deeply nested input with readable messages', async () => {
    const many = Array.from({ length: 51 }, () => 'health').join(',');
    const batch = await fetch(`${server.url}/trpc/${many}?batch=1`);
    expect(batch.status).toBe(400);
    expect(JSON.stringify(await batch.json())).toContain('a batch holds at most 50 calls');
    const big = await fetch(`${server.url}/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 << 20) });
    expect(big.status).toBe(413);
    expect(JSON.stringify(await big.json())).toContain('over the limit of 1048576 bytes');
    const nested = '['.repeat(20_000) + ']'.repeat(20_000);
    const deep = await fetch(`${server.url}/trpc/auth.signIn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"json":${nested}}` });
    expect(deep.status).toBe(400);
    expect(JSON.stringify(await deep.json())).not.toContain('call stack');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('tells a malformed bearer token from an expired one over HTTP and REST', async () => {
    const malformed = 'the bearer token is malformed: expected the 43-character token from auth.signUp or auth.signIn';
    const me = (token: string) => fetch(`${server.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}` } });
    type Body = { error: { json: { message: string } }; message: string };
    // What `TOKEN=$(… | jq -r .token)` holds when the sign-up failed.
    const bad = await me('null');
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as Body).error.json.message).toBe(malformed);
    const rest = await fetch(`${server.url}/api/auth/me`, { headers: { authorization: 'Bearer garbage' } });
    expect([rest.status, ((await rest.json()) as Body).message]).toEqual([401, malformed]);
    const unknown = await me(randomBytes(32).toString('base64url'));
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as Body).error.json.message).toBe('your session has expired or was revoked; sign in again');
  });

  it('accepts connectionParams with a null token as an anonymous connection', async () => {
    const ws = await rawSocket(server.url, '?connectionParams=1');
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: null } }));
    const reply = nextMessage(ws);
    ws.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'auth.me', input: { json: null } } }));
    expect(JSON.parse(await reply).error.json.data.code).toBe('UNAUTHORIZED');
    ws.close();
  });
});
