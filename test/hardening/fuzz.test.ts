import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import type pg from 'pg';
import { appRouter } from '../../src/router.js';
import type { GuildhallServer } from '../../src/server.js';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { closeClient, createClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallClient } from '../../sdk/src/index.js';
import { rawSocket, wsOnlyClient } from '../helpers/ws-client.js';
import { arbitraryOf, hostileInputs } from '../helpers/zod-arbitrary.js';

/**
 * Every procedure of the router (enumerated, so one added later is fuzzed too), called
 * over HTTP and over WebSocket as a signed-in member (the owner of a community with a
 * group, a room, a role, a message and an event) with inputs generated from its zod
 * schema (leaves sometimes poisoned) and with a corpus of hostile whole inputs.
 * Asserts: no INTERNAL_SERVER_ERROR and no HTTP 5xx, the server still answers, and a
 * call that was refused left every table as it was.
 * FUZZ_RUNS (default 3, so the suite stays near a minute of CI) sets the generated inputs per
 * procedure and transport; raise it for a deeper local run.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3);

type Proc = { _def: { type: 'query' | 'mutation' | 'subscription'; inputs: unknown[] } };
const procedures = Object.entries((appRouter._def as unknown as { procedures: Record<string, Proc> }).procedures).filter(
  ([path]) => !process.env.FUZZ_ONLY || new RegExp(process.env.FUZZ_ONLY).test(path),
);

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let pool: pg.Pool;
let fingerprintSql = '';
const uuids: string[] = [];
const emails: string[] = [];
let email = '';
let token = '';
let http: GuildhallClient;
let ws: ReturnType<typeof wsOnlyClient>;

async function signIn() {
  const r = await createClient({ url: server.url }).auth.signIn.mutate({ email, password: 'correct horse battery' });
  token = r.token;
  closeClient(http);
  ws.close();
  http = createClient({ url: server.url, token });
  ws = wsOnlyClient(server.url, token);
}

beforeAll(async () => {
  db = await createTestDatabase();
  // The reminder scheduler stays idle, so the only writes are the fuzzed calls' own; the
  // fuzzed sign-ins must not lock the member out of signing in again after a fuzzed signOut.
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix(), env: { EVENT_REMINDER_POLL_MS: '600000', SIGN_IN_RATE: '1000000/1' } });
  pool = rawPool(db.url);
  const tables = (
    await pool.query<{ t: string }>(
      `select quote_ident(table_name) as t from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
    )
  ).rows.map((r) => r.t);
  fingerprintSql = tables.map((t) => `select '${t}' as t, count(*)::text as n, coalesce(sum(hashtext(x::text)), 0)::text as h from ${t} x`).join(' union all ');

  email = `fuzz-${randomUUID()}@example.com`;
  const anon = createClient({ url: server.url });
  const me = await anon.auth.signUp.mutate({ email, password: 'correct horse battery', displayName: 'fuzz' });
  token = me.token;
  http = createClient({ url: server.url, token });
  ws = wsOnlyClient(server.url, token);
  const other = await anon.auth.signUp.mutate({ email: `other-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: 'other' });
  const otherClient = createClient({ url: server.url, token: other.token });
  const community = await http.scopes.create.mutate({ kind: 'community', name: 'fuzz' });
  const group = await http.scopes.create.mutate({ kind: 'group', parentId: community.id, name: 'group' });
  const room = await http.scopes.create.mutate({ kind: 'room', parentId: group.id, name: 'room' });
  for (const s of [community, group, room]) await otherClient.members.join.mutate({ scopeId: s.id });
  const message = await otherClient.messages.send.mutate({ scopeId: room.id, body: 'hello fuzz' });
  const role = await http.roles.create.mutate({ scopeId: community.id, name: 'fuzzers' });
  const event = await http.events.create.mutate({ scopeId: community.id, title: 'standup', start: '2030-01-01T09:00:00', end: '2030-01-01T09:15:00', timeZone: 'Europe/Paris', rrule: 'FREQ=DAILY;COUNT=5' });
  uuids.push(community.id, group.id, room.id, message.id, role.id, event.id, me.user.id, other.user.id);
  emails.push(email, 'nobody@example.com');
}, 60_000);

afterAll(async () => {
  closeClient(http);
  ws?.close();
  await server?.close(100);
  await pool?.end();
  await db?.drop();
});

const fingerprint = async () => JSON.stringify((await pool.query(fingerprintSql)).rows);

/** The server's answer to one call: `ok`, or the tRPC code and HTTP status it failed with. */
type Outcome = { ok: true } | { ok: false; code: string | undefined; status: number | undefined; message: string };

function outcomeOf(err: unknown): Outcome {
  if (!(err instanceof TRPCClientError)) throw err;
  const data = err.data as { code?: string; httpStatus?: number } | undefined;
  const response = (err.meta as { response?: Response } | undefined)?.response;
  return { ok: false, code: data?.code, status: data?.httpStatus ?? response?.status, message: err.message };
}

const pick = (client: unknown, path: string) => path.split('.').reduce((o, k) => (o as Record<string, unknown>)[k], client) as Record<string, (...a: unknown[]) => unknown>;

/** A subscription over WebSocket: until it starts, fails or yields (then it is stopped). */
function subscribeOnce(path: string, input: unknown): Promise<Outcome> {
  return new Promise((resolve) => {
    let sub: { unsubscribe(): void } | undefined;
    const done = (o: Outcome) => {
      clearTimeout(timer);
      setImmediate(() => sub?.unsubscribe());
      resolve(o);
    };
    const timer = setTimeout(() => done({ ok: true }), 3_000);
    sub = pick(ws.client, path).subscribe!(input, {
      onStarted: () => done({ ok: true }),
      onData: () => done({ ok: true }),
      onError: (err: unknown) => done(outcomeOf(err)),
    }) as { unsubscribe(): void };
  });
}

/**
 * A subscription over HTTP (SSE), read until its first event or error, then dropped.
 * `wire`: the input as sent (rawCall's `{ "json": … }`), else superjson of `input`.
 */
async function subscribeSse(path: string, input: unknown, wire = JSON.stringify(superjson.serialize(input))): Promise<Outcome> {
  const controller = new AbortController();
  const url = `${server.url}/trpc/${path}?input=${encodeURIComponent(wire)}`;
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 3_000;
    while (!/\n\n/.test(text) && Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
    return res.status >= 400 || code ? { ok: false, code, status: res.status, message: text.slice(0, 300) } : { ok: true };
  } finally {
    controller.abort();
  }
}

/**
 * The call as raw JSON, for inputs the clients' superjson refuses to send (an own
 * `__proto__` key): `{ "json": <input> }` over HTTP, or a hand-written frame on a socket.
 */
async function rawCall(transport: 'http' | 'ws', path: string, type: Proc['_def']['type'], input: unknown): Promise<Outcome> {
  const wire = JSON.stringify({ json: input });
  // A subscription over HTTP is an endless event stream: read as SSE, not to its end (a
  // generated input with an own `__proto__` key came here and hung the suite).
  if (transport === 'http' && type === 'subscription') return subscribeSse(path, input, wire);
  if (transport === 'http') {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const res =
      type === 'mutation'
        ? await fetch(`${server.url}/trpc/${path}`, { method: 'POST', headers, body: wire })
        : await fetch(`${server.url}/trpc/${path}?input=${encodeURIComponent(wire)}`, { headers });
    const text = (await res.text()).slice(0, 2_000);
    const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
    return res.ok && !code ? { ok: true } : { ok: false, code, status: res.status, message: text.slice(0, 300) };
  }
  const socket = await rawSocket(server.url, '?connectionParams=1');
  try {
    const reply = new Promise<string>((resolve) => socket.on('message', (d) => resolve(d.toString())));
    socket.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
    socket.send(`{"id":1,"method":"${type}","params":{"path":"${path}","input":${wire}}}`);
    const text = await Promise.race([reply, new Promise<string>((r) => setTimeout(() => r('{}'), 3_000))]);
    const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
    return code ? { ok: false, code, status: undefined, message: text.slice(0, 300) } : { ok: true };
  } finally {
    socket.close();
  }
}

const hasOwnProto = (v: unknown) => typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, '__proto__');

async function call(transport: 'http' | 'ws', path: string, type: Proc['_def']['type'], input: unknown): Promise<Outcome> {
  if (hasOwnProto(input)) return rawCall(transport, path, type, input);
  if (type === 'subscription') return transport === 'ws' ? subscribeOnce(path, input) : subscribeSse(path, input);
  const client = transport === 'http' ? http : ws.client;
  const method = type === 'query' ? 'query' : 'mutate';
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome>((r) => (timer = setTimeout(() => r({ ok: false, code: 'NO_ANSWER', status: 599, message: 'no answer within 10 s' }), 10_000)));
  try {
    return await Promise.race([(pick(client, path)[method]!(input) as Promise<unknown>).then((): Outcome => ({ ok: true }), outcomeOf), hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzz: every procedure, both transports', () => {
  it('enumerates the router', () => {
    expect(procedures.length).toBeGreaterThan(process.env.FUZZ_ONLY ? 0 : 50);
  });

  it('no input gives a 500, stops the server, or changes data when refused', async () => {
    const failures: string[] = [];
    let calls = 0;
    let refused = 0;
    let before = await fingerprint();
    for (const [index, [path, proc]] of procedures.entries()) {
      const schema = proc._def.inputs[0];
      const generated = schema ? arbitraryOf(schema, { uuids, emails }) : fc.constant(undefined);
      const property = fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: generated }, fc.constantFrom(...hostileInputs())), fc.constantFrom<'http' | 'ws'>('http', 'ws'), async (input, transport) => {
        calls++;
        const outcome = await call(transport, path, proc._def.type, input);
        // Only mutations write: a query or subscription leaves `before` as it was (a query that
        // wrote would still be caught, at the next refused mutation).
        const after = proc._def.type === 'mutation' ? await fingerprint() : before;
        if (process.env.FUZZ_TRACE && !outcome.ok && outcome.code === 'NO_ANSWER') console.log('hung', transport, path, String(JSON.stringify(input)).slice(0, 200));
        if (process.env.FUZZ_TRACE) console.log('call', transport, path, outcome.ok ? 'OK' : `${outcome.code} ${outcome.message.slice(0, 80)}`);
        if (!outcome.ok) {
          refused++;
          if (outcome.code === 'INTERNAL_SERVER_ERROR' || (outcome.status ?? 0) >= 500) failures.push(`${transport} ${path} → ${outcome.code} ${outcome.status}: ${outcome.message}`);
          else if (after !== before) failures.push(`${transport} ${path} refused (${outcome.code}) but changed data`);
        }
        before = after;
        if (outcome.ok && path === 'auth.signOut') {
          await signIn();
          before = await fingerprint();
        }
      });
      // Each hostile input once per procedure, on alternating transports (shifted per procedure).
      const corpus = hostileInputs().map((v, i) => [v, (i + index) % 2 ? 'ws' : 'http'] as [unknown, 'http' | 'ws']);
      const started = Date.now();
      // A procedure without input ignores what it is given: the corpus and a couple more are enough.
      await fc.assert(property, { numRuns: (schema ? RUNS * 2 : 2) + corpus.length, examples: corpus });
      if (process.env.FUZZ_TRACE) console.log(`fuzz: ${path} ${Date.now() - started} ms`);
    }
    const health = await fetch(`${server.url}/healthz`);
    console.log(`fuzz: procedures=${procedures.length} calls=${calls} refused=${refused} failures=${failures.length}`);
    expect(health.status).toBe(200);
    expect(await http.auth.me.query()).toMatchObject({ email });
    expect(failures).toEqual([]);
  }, 420_000);
});
