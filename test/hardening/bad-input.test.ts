import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { useServers } from '../messages/setup.js';
import { createClient } from '../helpers/server.js';
import { rawSocket } from '../helpers/ws-client.js';

const { ctx, user, room } = useServers();

/** The code and message a call failed with. */
async function failure(p: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCClientError) return { code: (err.data as { code?: string } | undefined)?.code, message: err.message };
    throw err;
  }
  throw new Error('the call succeeded');
}

const counts = async () =>
  (
    await ctx.pool.query<{ n: string }>(
      `select (select count(*) from users) + (select count(*) from messages) + (select count(*) from scopes)
            + (select count(*) from roles) + (select count(*) from events) + (select count(*) from scope_events) as n`,
    )
  ).rows[0]!.n;

describe('text with NUL or a lone surrogate', () => {
  const NUL = 'a\u0000b';
  const LONE_HIGH = 'a\uD800b';
  const LONE_LOW = '\uDC00';

  it('is BAD_REQUEST naming the field, and changes nothing, in every input where it was a 500', async () => {
    const owner = await user('owner');
    const victim = await user('victim');
    const { community, room: r } = await room(owner, [victim]);
    const sent = await owner.client.messages.send.mutate({ scopeId: r.id, body: 'hello' });
    const anon = createClient({ url: ctx.a.url });
    const before = await counts();
    const cases: [string, () => Promise<unknown>][] = [
      ['displayName', () => anon.auth.signUp.mutate({ email: `n-${randomUUID()}@example.com`, password: 'long enough pw', displayName: NUL })],
      ['body', () => owner.client.messages.send.mutate({ scopeId: r.id, body: NUL })],
      ['nonce', () => owner.client.messages.send.mutate({ scopeId: r.id, body: 'fine', nonce: NUL })],
      ['body', () => owner.client.messages.edit.mutate({ scopeId: r.id, messageId: sent.id, body: LONE_HIGH })],
      ['name', () => owner.client.scopes.create.mutate({ kind: 'community', name: NUL })],
      ['description', () => owner.client.scopes.update.mutate({ scopeId: community.id, description: NUL })],
      ['settings.topic', () => owner.client.scopes.update.mutate({ scopeId: community.id, settings: { topic: NUL } })],
      ['settings', () => owner.client.scopes.update.mutate({ scopeId: community.id, settings: { [LONE_LOW]: 'x' } })],
      ['name', () => owner.client.roles.create.mutate({ scopeId: community.id, name: LONE_LOW })],
      ['reason', () => owner.client.moderation.ban.mutate({ scopeId: community.id, userId: victim.userId, reason: NUL })],
      ['title', () => owner.client.events.create.mutate({ scopeId: community.id, title: NUL, start: '2030-01-01T09:00:00', timeZone: 'UTC' })],
      ['query', () => owner.client.messages.search.query({ scopeId: r.id, query: NUL })],
    ];
    for (const [field, call] of cases) {
      const f = await failure(call());
      expect(f.code, field).toBe('BAD_REQUEST');
      expect(f.message, field).toContain(`${field}:`);
      expect(f.message, field).toMatch(/NUL|surrogate/);
    }
    expect(await counts()).toBe(before);
    expect(await owner.client.members.list.query({ scopeId: community.id }).then((l) => JSON.stringify(l))).toContain(victim.userId);
  });

  it('is refused over WebSocket too', async () => {
    const ws = await rawSocket(ctx.a.url);
    const reply = new Promise<string>((res) => ws.once('message', (d) => res(d.toString())));
    ws.send(JSON.stringify({ id: 1, method: 'mutation', params: { path: 'auth.signUp', input: { json: { email: 'x@example.com', password: 'long enough', displayName: NUL } } } }));
    const msg = JSON.parse(await reply) as { error: { json: { message: string; data: { code: string } } } };
    expect(msg.error.json.data.code).toBe('BAD_REQUEST');
    expect(msg.error.json.message).toContain('displayName:');
    ws.close();
  });
});

describe('messages.search cursors', () => {
  it('refuses cursors it did not give out with BAD_REQUEST', async () => {
    const owner = await user('searcher');
    const { room: r } = await room(owner);
    await owner.client.messages.send.mutate({ scopeId: r.id, body: 'findme' });
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const id = randomUUID();
    for (const cursor of [b64(`99999999999999999999_${id}`), b64(`9223372036854775807_${id}`), b64(`1_${'-'.repeat(36)}`)]) {
      const f = await failure(owner.client.messages.search.query({ scopeId: r.id, query: 'findme', cursor }));
      expect(f.code).toBe('BAD_REQUEST');
      expect(f.message).toContain('cursor');
    }
  });
});

describe('events.create rrule', () => {
  it('UNTIL=99991231T235959Z (the usual way of writing "forever") is BAD_REQUEST on rrule saying how to write a series with no end, in create, update and the .ics import, with no change', async () => {
    const owner = await user('planner');
    const { community } = await room(owner);
    const fields = { scopeId: community.id, title: 'daily', start: '2030-01-01T09:00:00', end: '2030-01-01T10:00:00', timeZone: 'UTC' };
    const before = await counts();
    for (const rrule of ['FREQ=DAILY;UNTIL=99991231T235959Z', 'FREQ=WEEKLY;UNTIL=22010101', 'FREQ=DAILY;UNTIL=99991231']) {
      const f = await failure(owner.client.events.create.mutate({ ...fields, rrule }));
      expect(f.code).toBe('BAD_REQUEST');
      expect(f.message).toMatch(/^rrule: UNTIL .* is past year 2200/);
      expect(f.message).toContain('leave out UNTIL and COUNT for a series with no end');
    }
    // A start past the horizon names start.
    const late = await failure(owner.client.events.create.mutate({ ...fields, start: '9999-01-01T09:00:00', end: '9999-01-01T10:00:00' }));
    expect(late).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^start 9999-01-01T09:00:00 is past year 2200/) });
    expect(await counts()).toBe(before);

    // With no UNTIL, the same series has no end; an update to UNTIL=9999 is refused the same way and changes nothing.
    const event = await owner.client.events.create.mutate({ ...fields, rrule: 'FREQ=DAILY' });
    const page = await owner.client.events.instances.query({ eventId: event.id, from: new Date('2030-01-01T00:00:00Z'), to: new Date('2030-01-04T00:00:00Z'), limit: 10 });
    expect(page.items).toHaveLength(3);
    const afterCreate = await counts();
    const up = await failure(owner.client.events.update.mutate({ eventId: event.id, rrule: 'FREQ=DAILY;UNTIL=99991231T235959Z' }));
    expect(up.code).toBe('BAD_REQUEST');
    expect(up.message).toContain('leave out UNTIL and COUNT for a series with no end');
    expect((await owner.client.events.get.query({ eventId: event.id })).rrule).toBe('FREQ=DAILY');
    expect(await counts()).toBe(afterCreate);

    // The .ics import reports such a series as not taken, and takes the rest.
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//test//EN',
      'BEGIN:VEVENT',
      'UID:forever@test',
      'SUMMARY:forever',
      'DTSTART:20300101T090000Z',
      'DTEND:20300101T100000Z',
      'RRULE:FREQ=DAILY;UNTIL=99991231T235959Z',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:once@test',
      'SUMMARY:once',
      'DTSTART:20300101T090000Z',
      'DTEND:20300101T100000Z',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    const report = await owner.client.events.importIcs.mutate({ scopeId: community.id, ics });
    expect(report.created.map((c) => c.uid)).toEqual(['once@test']);
    expect(report.skipped).toEqual([{ uid: 'forever@test', title: 'forever', reason: expect.stringContaining('leave out UNTIL and COUNT for a series with no end') }]);
  });
});

describe('malformed requests', () => {
  it('answer with our own message, never a library error text', async () => {
    const bodies: [string, string, string][] = [
      ['POST', '/trpc/auth.signIn', '{"json":'],
      ['POST', '/trpc/auth.signIn', '"just a string"'],
      ['POST', '/trpc/auth.signIn', '{"json":{"email":"a@example.com"},"meta":{"values":{"email":["nope"]}}}'],
      ['POST', '/trpc/auth.signIn', '{"json":{"email":"a@example.com"},"meta":{"values":7}}'],
      ['POST', '/trpc/auth.signIn', '{"json":{},"meta":{"referentialEqualities":{"a":["b"]}}}'],
      ['POST', '/trpc/auth.signIn?batch=1', '{"0":{"json":1},"1":5}'],
      ['POST', '/trpc/auth.signIn?batch=1', '[1,2]'],
      ['POST', '/trpc/auth.signIn', '{"json":{"email":"a@example.com"},"meta":{"values":{"email":[["custom","nope"]]}}}'],
      ['POST', '/trpc/auth.signIn', '{"json":{"email":"a@example.com"},"meta":{"values":{"email":[["class","nope"]]}}}'],
      ['POST', '/trpc/auth.signIn', '{"json":{"email":"a@example.com"},"meta":{"values":{"email":["symbol"]}}}'],
      ['POST', '/trpc/auth.signIn', '{"json":{"email":"x"},"meta":{"values":{"email":["bigint"]}}}'],
      ['GET', '/trpc/auth.me?input=%7B%22json%22', ''],
      ['GET', '/trpc/auth.me?batch=1&input=5', ''],
      ['POST', '/trpc/nope.nope', '{}'],
      ['POST', '/trpc/auth.me', '{}'],
    ];
    const libraryText = /is not a function|Cannot read prop|undefined is not|Unexpected token|Unexpected end|is not iterable|is not valid JSON|superjson\.|transformer\.|Unknown transformation|INTERNAL_SERVER_ERROR/i;
    const offenders: string[] = [];
    for (const [method, url, body] of bodies) {
      const res = await fetch(`${ctx.a.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : body });
      const text = await res.text();
      if (res.status >= 500 || libraryText.test(text)) offenders.push(`${method} ${url} ${body} → ${res.status} ${text}`);
    }
    const ws = await rawSocket(ctx.a.url);
    const frames = [
      '{"id":1,"method":"query","params":{"path":"health","input":{"json":null,"meta":{"values":{"":["x"]}}}}}',
      '{"id":2,"method":"query","params":{"path":"health","input":{"json":{},"meta":{"values":7}}}}',
      '{"id":3,"method":"query","params":{"path":5,"input":null}}',
      '{"id":4,"method":"nope","params":{}}',
      '{"id":5}',
      '{"id":6,"method":"query","params":{"path":"health","input":{"json":{"a":1},"meta":{"values":{"a":[["custom","nope"]]}}}}}',
      'not json',
    ];
    const replies: string[] = [];
    const got = new Promise<void>((res) =>
      ws.on('message', (d) => {
        replies.push(d.toString());
        if (replies.length === frames.length) res();
      }),
    );
    for (const f of frames) ws.send(f);
    await got;
    for (const r of replies) if (libraryText.test(r)) offenders.push(`ws → ${r}`);
    ws.close();
    expect(offenders).toEqual([]);
  });
});

describe('an input that is not superjson', () => {
  it('(a bare string, number, array or null, not `{ "json": … }`) is BAD_REQUEST saying how to wrap it, not a field error of "undefined"', async () => {
    const { token } = await user('wrap');
    const scopes = async () => (await ctx.pool.query<{ n: string }>('select count(*) as n from scopes')).rows[0]!.n;
    const before = await scopes();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    for (const raw of ['"str"', '5', '[1]', 'null']) {
      const get = await fetch(`${ctx.a.url}/trpc/scopes.get?input=${encodeURIComponent(raw)}`, { headers });
      const post = await fetch(`${ctx.a.url}/trpc/scopes.create`, { method: 'POST', headers, body: raw });
      for (const [how, res] of [['GET', get], ['POST', post]] as const) {
        const { error } = (await res.json()) as { error: { json: { message: string; data: { code: string } } } };
        expect(res.status, `${how} ${raw}`).toBe(400);
        expect(error.json.message, `${how} ${raw}`).toContain('{ "json": <input> }');
        expect(error.json.message, `${how} ${raw}`).not.toContain('undefined');
      }
    }
    expect(await scopes()).toBe(before);
  });

  it('with no input where an object is due, or a superjson meta that does not fit its json, says so (not "nested too deeply", not "Invalid input" twice)', async () => {
    const { token } = await user('meta');
    const headers = { authorization: `Bearer ${token}` };
    const messageOf = async (input: unknown) => {
      const res = await fetch(`${ctx.a.url}/trpc/scopes.get?input=${encodeURIComponent(JSON.stringify(input))}`, { headers });
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { json: { message: string } } }).error.json.message;
    };
    expect(await messageOf({})).toBe('invalid input: this call takes an input object; send `{ "json": { … } }` with its fields');
    for (const meta of [{ values: 'str' }, { values: { scopeId: ['custom', 'nope'] } }]) {
      const message = await messageOf({ json: { scopeId: randomUUID() }, meta });
      expect(message, JSON.stringify(meta)).toContain('superjson `meta`');
      expect(message, JSON.stringify(meta)).not.toBe('invalid input: it is nested too deeply');
    }
  });
});

describe('integers past 2^53', () => {
  it('are BAD_REQUEST naming the field and the largest integer taken, over tRPC and REST; a fraction is "must be an integer"', async () => {
    const owner = await user('bigint');
    const { room: r } = await room(owner, []);
    const SAFE = `must be a safe integer (≤ ${Number.MAX_SAFE_INTEGER})`;
    const cases: [string, () => Promise<unknown>][] = [
      ['beforeSeq', () => owner.client.messages.list.query({ scopeId: r.id, beforeSeq: 2 ** 53 + 2 })],
      ['afterSeq', () => owner.client.messages.thread.query({ scopeId: r.id, rootId: randomUUID(), afterSeq: 1e300 })],
      ['seq', () => owner.client.readState.mark.mutate({ scopeId: r.id, seq: 2 ** 60 })],
      ['limit', () => owner.client.messages.list.query({ scopeId: r.id, limit: 2 ** 60 })],
      ['cursor', () => owner.client.audit.list.query({ scopeId: r.id, cursor: 2 ** 53 })],
    ];
    for (const [field, call] of cases) {
      const f = await failure(call());
      expect(f, field).toEqual({ code: 'BAD_REQUEST', message: `invalid input: ${field}: ${SAFE}` });
    }
    const below = await failure(owner.client.messages.list.query({ scopeId: r.id, aroundSeq: -(2 ** 60) }));
    expect(below.message).toBe(`invalid input: aroundSeq: must be a safe integer (≥ ${Number.MIN_SAFE_INTEGER})`);
    const fraction = await failure(owner.client.messages.list.query({ scopeId: r.id, limit: 1.5 }));
    expect(fraction.message).toBe('invalid input: limit: must be an integer');
    // REST: the query string's digits, and a JSON body's number.
    const headers = { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' };
    const get = await fetch(`${ctx.a.url}/api/scopes/${r.id}/messages?beforeSeq=9007199254740993`, { headers });
    expect([get.status, ((await get.json()) as { message: string }).message]).toEqual([400, `invalid input: beforeSeq: ${SAFE}`]);
    const put = await fetch(`${ctx.a.url}/api/scopes/${r.id}/read-state`, { method: 'PUT', headers, body: '{"seq":18446744073709551616}' });
    const body = (await put.json()) as { message: string; issues: { message: string }[] };
    expect([put.status, body.message, body.issues[0]!.message]).toEqual([400, `invalid input: seq: ${SAFE}`, SAFE]);
  });
});
