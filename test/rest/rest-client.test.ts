import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';

/**
 * A REST-only client: fetch and plain JSON, no SDK, no superjson, as a non-TypeScript
 * integrator would write it.
 */
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

interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

async function call<T = any>(method: string, path: string, o: { token?: string; body?: unknown; raw?: string; contentType?: string } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined || o.raw !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
  const res = await fetch(`${server.url}/api${path}`, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function signUp(name: string) {
  const email = `${name}-${randomUUID()}@example.com`;
  const r = await call('POST', '/auth/sign-up', { body: { email, password: 'correct horse battery', displayName: name } });
  expect(r.status).toBe(200);
  return { token: r.body.token as string, userId: r.body.user.id as string, email };
}

describe('REST with plain JSON under /api', () => {
  it('signs up, creates a community and a room, sends, lists, edits and deletes', async () => {
    const alice = await signUp('alice');
    const me = await call('GET', '/auth/me', { token: alice.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: alice.userId, displayName: 'alice' });
    expect(me.body.createdAt).toMatch(ISO);

    const community = await call('POST', '/scopes', { token: alice.token, body: { kind: 'community', name: 'Guild' } });
    expect(community.status).toBe(200);
    expect(community.body).toMatchObject({ kind: 'community', name: 'Guild', parentId: null, archivedAt: null });
    expect(community.body.createdAt).toMatch(ISO);
    const room = await call('POST', '/scopes', { token: alice.token, body: { kind: 'room', parentId: community.body.id, name: 'lobby' } });
    expect(room.status).toBe(200);
    const roomId = room.body.id as string;

    const nonce = randomUUID();
    const sent = await call('POST', `/scopes/${roomId}/messages`, { token: alice.token, body: { body: 'hello over REST', nonce } });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ scopeId: roomId, body: 'hello over REST', authorId: alice.userId, seq: expect.any(Number), editedAt: null });
    expect(sent.body.createdAt).toMatch(ISO);
    // The same nonce again returns the original message (an idempotent retry).
    const retried = await call('POST', `/scopes/${roomId}/messages`, { token: alice.token, body: { body: 'hello over REST', nonce } });
    expect(retried.body.id).toBe(sent.body.id);
    await call('POST', `/scopes/${roomId}/messages`, { token: alice.token, body: { body: 'second' } });

    const page = await call('GET', `/scopes/${roomId}/messages?limit=1`, { token: alice.token });
    expect(page.status).toBe(200);
    expect(page.body.items.map((m: { body: string }) => m.body)).toEqual(['second']);
    const older = await call('GET', `/scopes/${roomId}/messages?beforeSeq=${page.body.nextBeforeSeq}&limit=10`, { token: alice.token });
    expect(older.body.items.map((m: { body: string }) => m.body)).toEqual(['hello over REST']);

    const edited = await call('PATCH', `/scopes/${roomId}/messages/${sent.body.id}`, { token: alice.token, body: { body: 'hello, edited' } });
    expect(edited.status).toBe(200);
    expect(edited.body.body).toBe('hello, edited');
    expect(edited.body.editedAt).toMatch(ISO);
    const got = await call('GET', `/scopes/${roomId}/messages/${sent.body.id}`, { token: alice.token });
    expect(got.body.body).toBe('hello, edited');

    const reacted = await call('PUT', `/scopes/${roomId}/messages/${sent.body.id}/reactions/${encodeURIComponent('👍')}`, { token: alice.token });
    expect(reacted.status).toBe(200);
    expect(reacted.body.reactions).toEqual([{ emoji: '👍', count: 1, me: true, userIds: [alice.userId] }]);
    const reactors = await call('GET', `/scopes/${roomId}/messages/${sent.body.id}/reactions/${encodeURIComponent('👍')}?limit=1`, { token: alice.token });
    expect(reactors.status).toBe(200);
    expect(reactors.body).toEqual({ items: [{ userId: alice.userId, reactedAt: expect.stringMatching(ISO) }], nextCursor: null });
    const badLimit = await call('GET', `/scopes/${roomId}/messages/${sent.body.id}/reactions/${encodeURIComponent('👍')}?limit=0`, { token: alice.token });
    expect(badLimit.status).toBe(400);

    const deleted = await call('DELETE', `/scopes/${roomId}/messages/${sent.body.id}`, { token: alice.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: sent.body.id, body: '' });
    expect(deleted.body.deletedAt).toMatch(ISO);
    const after = await call('GET', `/scopes/${roomId}/messages`, { token: alice.token });
    expect(after.body.items.map((m: { body: string }) => m.body)).toEqual(['second']);
  });

  it('carries permission bitfields as decimal strings both ways', async () => {
    const owner = await signUp('owner');
    const community = await call('POST', '/scopes', { token: owner.token, body: { kind: 'community', name: 'Bits' } });
    const role = await call('POST', `/scopes/${community.body.id}/roles`, { token: owner.token, body: { name: 'mods', permissions: '4100' } });
    expect(role.status).toBe(200);
    expect(role.body.permissions).toBe('4100');
    const effective = await call('GET', `/scopes/${community.body.id}/permissions`, { token: owner.token });
    expect(effective.status).toBe(200);
    expect(effective.body.permissions).toMatch(/^[0-9]+$/);
    const bad = await call('POST', `/scopes/${community.body.id}/roles`, { token: owner.token, body: { name: 'x', permissions: 'lots' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('BAD_REQUEST');
  });

  it('answers errors with the HTTP status of their code and the readable message', async () => {
    const bob = await signUp('bob');
    const anonymous = await call('GET', '/auth/me');
    expect(anonymous).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED', message: 'sign in first: send a bearer token' } });

    const community = await call('POST', '/scopes', { token: bob.token, body: { kind: 'community', name: 'Errors' } });
    const tooLong = await call('POST', `/scopes/${community.body.id}/messages`, { token: bob.token, body: { body: 'x'.repeat(4001) } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe('BAD_REQUEST');
    expect(tooLong.body.message).toBe('invalid input: body: body must be at most 4000 characters');
    expect(tooLong.body.issues[0].path).toEqual(['body']);

    const missing = await call('GET', `/scopes/${randomUUID()}`, { token: bob.token });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('NOT_FOUND');

    const carol = await signUp('carol');
    const forbidden = await call('POST', `/scopes/${community.body.id}/messages`, { token: carol.token, body: { body: 'hi' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('FORBIDDEN');

    const taken = await call('POST', '/auth/sign-up', { body: { email: bob.email, password: 'correct horse battery', displayName: 'again' } });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('CONFLICT');

    const notJson = await call('POST', '/scopes', { token: bob.token, raw: '{"kind":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('PARSE_ERROR');
    const wrongType = await call('POST', '/scopes', { token: bob.token, raw: 'kind=community', contentType: 'application/x-www-form-urlencoded' });
    expect(wrongType.status).toBe(415);
    const tooBig = await call('POST', '/scopes', { token: bob.token, raw: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(tooBig.status).toBe(413);

    const noRoute = await call('GET', '/nowhere', { token: bob.token });
    expect(noRoute).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const wrongMethod = await call('PUT', `/scopes/${community.body.id}/messages`, { token: bob.token, body: {} });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, OPTIONS, POST');
    // An unset shell variable leaves an empty segment (`…/messages/$MESSAGE` with no MESSAGE): said so.
    const unset = await call('PATCH', `/scopes/${community.body.id}/messages/`, { token: bob.token, body: { body: 'x' } });
    expect(unset.status).toBe(405);
    expect(unset.body.message).toMatch(/; the path has an empty segment: is a variable in it unset\?$/);
    const unknown = await call('GET', `/scopes/${community.body.id}/nothing/`, { token: bob.token });
    expect([unknown.status, unknown.body.message]).toEqual([404, expect.stringMatching(/empty segment/)]);
    // One inside the path is an empty parameter, which its schema names.
    const inside = await call('GET', '/scopes//messages', { token: bob.token });
    expect([inside.status, inside.body.message]).toEqual([400, 'invalid input: scopeId: scopeId must be a scope id (uuid)']);
    expect((await call('GET', '/nowhere', { token: bob.token })).body.message).not.toMatch(/empty segment/);
  });

  it('answers HEAD as its GET without the body, and OPTIONS with the methods of the path (RFC 9110 §9.3.2, §9.3.7)', async () => {
    const erin = await signUp('erin');
    const community = await call('POST', '/scopes', { token: erin.token, body: { kind: 'community', name: 'Heads' } });
    const url = `${server.url}/api/scopes/${community.body.id}/messages`;
    const authorization = `Bearer ${erin.token}`;
    for (const headers of [{ authorization }, {}] as Record<string, string>[]) {
      const get = await fetch(url, { headers });
      await get.text();
      const head = await fetch(url, { method: 'HEAD', headers });
      expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([get.status, get.headers.get('content-type'), '']);
    }
    // A path with no GET has no HEAD either.
    const noGet = await fetch(`${server.url}/api/auth/sign-in`, { method: 'HEAD' });
    expect([noGet.status, noGet.headers.get('allow')]).toEqual([405, 'OPTIONS, POST']);
    const options = await fetch(url, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow'), await options.text()]).toEqual([204, 'GET, HEAD, OPTIONS, POST', '']);
    const nowhere = await call('OPTIONS', '/nowhere');
    expect(nowhere).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('reads query strings by the schema: numbers, booleans stay strict, arrays from repeated keys', async () => {
    const dave = await signUp('dave');
    const community = await call('POST', '/scopes', { token: dave.token, body: { kind: 'community', name: 'Query' } });
    const notNumber = await call('GET', `/scopes/${community.body.id}/messages?limit=ten`, { token: dave.token });
    expect(notNumber.status).toBe(400);
    expect(notNumber.body.message).toMatch(/^invalid input: limit: /);
    const states = await call('GET', `/read-states?scopeIds=${community.body.id}`, { token: dave.token });
    expect(states.status).toBe(200);
    expect(states.body).toEqual([expect.objectContaining({ scopeId: community.body.id, unreadCount: 0 })]);
    // A JSON string where the schema wants a boolean is refused, not read as true.
    const archived = await call('POST', `/scopes/${community.body.id}/archive`, { token: dave.token, body: { archived: 'false' } });
    expect(archived.status).toBe(400);
  });
  it('follows a conversation over the SSE wire of /trpc (what README documents), and resumes with Last-Event-ID', async () => {
    const erin = await signUp('erin');
    const community = await call('POST', '/scopes', { token: erin.token, body: { kind: 'community', name: 'SSE' } });
    const scopeId = community.body.id as string;
    await call('POST', `/scopes/${scopeId}/messages`, { token: erin.token, body: { body: 'first' } });

    /** Opens the stream and yields its SSE events ({ event, id, data }) as they arrive. */
    async function* events(input: object, headers: Record<string, string> = {}) {
      const abort = new AbortController();
      const url = `${server.url}/trpc/messages.onEvent?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
      const res = await fetch(url, { headers: { authorization: `Bearer ${erin.token}`, ...headers }, signal: abort.signal });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
            if (block.startsWith(':')) continue; // a comment (ping)
            yield { event: field('event'), id: field('id'), data: JSON.parse(field('data') || 'null') };
          }
        }
      } finally {
        abort.abort();
      }
    }

    const stream = events({ scopeId, lastEventId: '0' });
    expect((await stream.next()).value).toEqual({ event: 'connected', id: undefined, data: { reconnectAfterInactivityMs: 30_000 } });
    const replayed = (await stream.next()).value!;
    expect(replayed).toMatchObject({ id: '1', data: { json: { seq: 1, type: 'message.created', message: { body: 'first' } } } });
    await call('POST', `/scopes/${scopeId}/messages`, { token: erin.token, body: { body: 'second' } });
    const live = (await stream.next()).value!;
    expect(live).toMatchObject({ id: '2', data: { json: { seq: 2, message: { body: 'second' } } } });
    await stream.return(undefined);

    // What EventSource sends on reconnect: the id of the last event it got.
    const resumed = events({ scopeId }, { 'last-event-id': '1' });
    expect((await resumed.next()).value).toMatchObject({ event: 'connected' });
    expect((await resumed.next()).value).toMatchObject({ id: '2', data: { json: { message: { body: 'second' } } } });
    await resumed.return(undefined);

    const denied = events({ scopeId: randomUUID() });
    expect((await denied.next()).value).toMatchObject({ event: 'connected' });
    expect((await denied.next()).value).toMatchObject({ event: 'serialized-error', data: { json: { data: { code: 'NOT_FOUND' } } } });
    await denied.return(undefined);
  });

  it('posts a poll, votes on it and reads the exact tally', async () => {
    const alice = await signUp('alice');
    const bob = await signUp('bob');
    const community = await call('POST', '/scopes', { token: alice.token, body: { kind: 'community', name: 'Polls', visibility: 'public' } });
    expect(community.status).toBe(200);
    expect((await call('POST', `/scopes/${community.body.id}/join`, { token: bob.token, body: {} })).status).toBe(200);

    const poll = await call('POST', '/polls', {
      token: alice.token,
      body: { scopeId: community.body.id, question: 'Lunch?', options: [{ text: 'Pizza' }, { text: 'Soup' }] },
    });
    expect(poll.status).toBe(200);
    expect(poll.body).toMatchObject({ question: 'Lunch?', voterCount: 0, closed: false, myVote: null });
    const [pizza, soup] = poll.body.options as { id: string }[];

    const vote = await call('POST', `/polls/${poll.body.id}/votes`, { token: bob.token, body: { optionIds: [soup!.id] } });
    expect(vote.status).toBe(200);
    expect(vote.body.myVote).toEqual([soup!.id]);
    // Single choice: a second option in one vote is refused and changes nothing.
    const twice = await call('POST', `/polls/${poll.body.id}/votes`, { token: alice.token, body: { optionIds: [pizza!.id, soup!.id] } });
    expect(twice.status).toBe(400);

    const read = await call('GET', `/polls/${poll.body.id}`, { token: alice.token });
    expect(read.status).toBe(200);
    expect(read.body.voterCount).toBe(1);
    expect(read.body.options.map((o: { count: number | null }) => o.count)).toEqual([0, 1]);
    expect(read.body.closesAt).toBeNull();
  });

  it('refuses a negative permission bitfield with 400 and the reason (its issues hold a bigint), not a 500', async () => {
    const alice = await signUp('alice');
    const community = await call('POST', '/scopes', { token: alice.token, body: { kind: 'community', name: 'Bits' } });
    const bad = await call('POST', `/scopes/${community.body.id}/roles`, { token: alice.token, body: { name: 'r', permissions: '-1' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/permissions must not be negative/) });
    const roles = await call('GET', `/scopes/${community.body.id}/roles`, { token: alice.token });
    expect((roles.body as { name: string }[]).some((r) => r.name === 'r')).toBe(false);
  });
});
