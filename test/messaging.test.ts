import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { codeOf, errCode } from './helpers/errors.js';
import { createTestDatabase } from './helpers/db.js';
import { closeClient, createClient, signUpClient, startServer, testPrefix } from './helpers/server.js';
import { collect, messageOf } from './helpers/subscribe.js';
import type { GuildhallServer } from '../src/server.js';
import type { ScopeStreamEvent } from '../sdk/src/index.js';


let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: GuildhallServer;
let b: GuildhallServer;
const clients: Parameters<typeof closeClient>[0][] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const prefix = testPrefix();
  // Two instances on one database and one Redis, as in production.
  a = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
  b = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
});
afterAll(async () => {
  for (const c of clients) closeClient(c);
  await Promise.all([a?.close(100), b?.close(100)]);
  await db?.drop();
});

async function user(server: GuildhallServer, name: string) {
  const u = await signUpClient(server.url, name);
  clients.push(u.client);
  return u;
}


/** A community with a room, owned by `owner`. */
async function room(owner: Awaited<ReturnType<typeof user>>) {
  const community = await owner.client.scopes.create.mutate({ kind: 'community', name: 'Guild' });
  const r = await owner.client.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'general' });
  return { community, room: r };
}

describe('messages over HTTP and WebSocket', () => {
  it('delivers a message from one client to another, live, with seq as a number', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(a, 'bob');
    const { community, room: r } = await room(alice);
    await bob.client.members.join.mutate({ scopeId: community.id });
    await bob.client.members.join.mutate({ scopeId: r.id });

    const start = (await bob.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    const sub = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: String(start) }, h));
    const sent = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'hello bob' });
    expect(sent).toMatchObject({ scopeId: r.id, seq: start + 1, authorId: alice.userId, body: 'hello bob' });
    expect(sent.createdAt).toBeInstanceOf(Date);

    const [ev] = await sub.until(1);
    expect(ev).toMatchObject({ type: 'message.created', scopeId: r.id, seq: start + 1, actorId: alice.userId, message: sent });
    expect(sub.ids).toEqual([String(start + 1)]);
    sub.stop();
  });

  it('pages history newest first with nextBeforeSeq', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    for (let i = 1; i <= 5; i++) await alice.client.messages.send.mutate({ scopeId: r.id, body: `m${i}` });
    const p1 = await alice.client.messages.list.query({ scopeId: r.id, limit: 2 });
    expect(p1.items.map((m) => m.body)).toEqual(['m5', 'm4']);
    expect(p1.nextBeforeSeq).toBe(4);
    const p2 = await alice.client.messages.list.query({ scopeId: r.id, limit: 2, beforeSeq: p1.nextBeforeSeq! });
    expect(p2.items.map((m) => m.seq)).toEqual([3, 2]);
    const p3 = await alice.client.messages.list.query({ scopeId: r.id, limit: 2, beforeSeq: p2.nextBeforeSeq! });
    expect(p3).toMatchObject({ items: [{ seq: 1, body: 'm1' }], nextBeforeSeq: null });
  });

  it('resumes after a dropped socket with lastEventId: no gap, no duplicate', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(a, 'bob');
    const { community, room: r } = await room(alice);
    await bob.client.members.join.mutate({ scopeId: community.id });
    await bob.client.members.join.mutate({ scopeId: r.id });

    const start = (await bob.client.scopes.get.query({ scopeId: r.id })).lastSeq; // after the member.joined events
    const first = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: String(start) }, h));
    for (let i = 1; i <= 3; i++) await alice.client.messages.send.mutate({ scopeId: r.id, body: `before ${i}` });
    await first.until(3);
    const lastId = first.ids.at(-1)!;
    first.stop();
    closeClient(bob.client); // the socket goes away; the server forgets the subscription

    for (let i = 1; i <= 4; i++) await alice.client.messages.send.mutate({ scopeId: r.id, body: `while away ${i}` });
    const resumed = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: lastId }, h));
    await resumed.until(4);
    for (let i = 1; i <= 2; i++) await alice.client.messages.send.mutate({ scopeId: r.id, body: `after ${i}` });
    const events = await resumed.until(6);
    expect(events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8, 9].map((n) => start + n));
    expect(events.map((e) => messageOf(e).body)).toEqual([
      'while away 1', 'while away 2', 'while away 3', 'while away 4', 'after 1', 'after 2',
    ]);
    resumed.stop();
  });

  it('the SDK resumes by itself when the server drops the socket', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    const watcher = await user(a, 'watcher');
    await watcher.client.members.join.mutate({ scopeId: r.path[0]! });
    await watcher.client.members.join.mutate({ scopeId: r.id });
    const from = String((await watcher.client.scopes.get.query({ scopeId: r.id })).lastSeq);
    const sub = collect<ScopeStreamEvent>((h) => watcher.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: from }, h));
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'one' });
    await sub.until(1);
    // Kill every server-side socket of instance a: the ws link reconnects and resubscribes
    // with the last tracked id it received.
    const sockets = [...a.wsClients()];
    expect(sockets.length).toBeGreaterThan(0);
    for (const socket of sockets) socket.terminate();
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'two' });
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'three' });
    const events = await sub.until(3);
    expect(events.map((e) => messageOf(e).body)).toEqual(['one', 'two', 'three']);
    sub.stop();
  });

  it('a subscriber on a second instance receives a message sent through the first (Redis bus)', async () => {
    const alice = await user(a, 'alice');
    const { community, room: r } = await room(alice);
    const carol = await user(b, 'carol');
    await carol.client.members.join.mutate({ scopeId: community.id });
    await carol.client.members.join.mutate({ scopeId: r.id });
    const start = (await carol.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    const sub = collect<ScopeStreamEvent>((h) => carol.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: String(start) }, h));
    const sent = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'across instances' });
    const msgs = [];
    for (let i = 0; i < 5; i++) msgs.push(await alice.client.messages.send.mutate({ scopeId: r.id, body: `burst ${i}` }));
    const events = await sub.until(6);
    expect(messageOf(events[0]!)).toEqual(sent);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6].map((n) => start + n));
    sub.stop();
  });

  it('a retried send with the same nonce returns the original, even concurrently through two instances', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    const aliceOnB = createClient({ url: b.url, token: alice.token });
    clients.push(aliceOnB);
    const sends = await Promise.all([
      alice.client.messages.send.mutate({ scopeId: r.id, body: 'once', nonce: 'n-1' }),
      aliceOnB.messages.send.mutate({ scopeId: r.id, body: 'once', nonce: 'n-1' }),
      alice.client.messages.send.mutate({ scopeId: r.id, body: 'once', nonce: 'n-1' }),
    ]);
    expect(new Set(sends.map((m) => m.id)).size).toBe(1);
    const page = await alice.client.messages.list.query({ scopeId: r.id, limit: 10 });
    expect(page.items).toHaveLength(1);
    const other = await alice.client.scopes.create.mutate({ kind: 'room', parentId: r.path[0]!, name: 'other' });
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: other.id, body: 'x', nonce: 'n-1' }))).toBe('CONFLICT');
  });
});

describe('access and bad input', () => {
  it('refuses non-members with FORBIDDEN on send, list and subscribe', async () => {
    const alice = await user(a, 'alice');
    const mallory = await user(a, 'mallory');
    const { room: r } = await room(alice);
    expect(await codeOf(mallory.client.messages.send.mutate({ scopeId: r.id, body: 'hi' }))).toBe('FORBIDDEN');
    expect(await codeOf(mallory.client.messages.list.query({ scopeId: r.id, limit: 10 }))).toBe('FORBIDDEN');
    const sub = collect<ScopeStreamEvent>((h) => mallory.client.messages.onEvent.subscribe({ scopeId: r.id }, h));
    const err = await sub.error;
    expect(err).toBeInstanceOf(TRPCClientError);
    expect(errCode(err)).toBe('FORBIDDEN');
    // Nothing was written.
    expect((await alice.client.messages.list.query({ scopeId: r.id, limit: 10 })).items).toEqual([]);
  });

  it('answers bad input with the right codes and changes nothing', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: '' }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: '   \n ' }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x'.repeat(4001) }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: '00000000-0000-4000-8000-000000000000', body: 'hi' }))).toBe('NOT_FOUND');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: 'not-a-uuid', body: 'hi' }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.list.query({ scopeId: r.id, limit: 0 }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.list.query({ scopeId: r.id, limit: 101 }))).toBe('BAD_REQUEST');
    const ahead = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: '99' }, h));
    expect(errCode(await ahead.error)).toBe('BAD_REQUEST');
    const bad = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: 'abc' }, h));
    expect(errCode(await bad.error)).toBe('BAD_REQUEST');
    const ok = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'x'.repeat(4000) });
    expect(ok.seq).toBe(1); // the refused sends took no seq
  });

  it('pages at the ends of the seq range: the largest afterSeq gives an empty page, not a 500', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    const sent = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'only' });
    const top = await alice.client.messages.list.query({ scopeId: r.id, afterSeq: Number.MAX_SAFE_INTEGER, limit: 2 });
    expect(top).toEqual({ items: [], nextBeforeSeq: Number.MAX_SAFE_INTEGER, nextAfterSeq: null });
    expect((await alice.client.messages.list.query({ scopeId: r.id, beforeSeq: top.nextBeforeSeq!, limit: 2 })).items.map((m) => m.id)).toEqual([sent.id]);
    expect(await alice.client.messages.list.query({ scopeId: r.id, beforeSeq: 1, limit: 2 })).toEqual({ items: [], nextBeforeSeq: null, nextAfterSeq: 0 });
  });

  it('a page of one around a seq that is not a message still says how to go on', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(a, 'bob');
    const { community, room: r } = await room(alice);
    // bob's member.joined takes a seq of the room's log before any message.
    await bob.client.members.join.mutate({ scopeId: community.id });
    await bob.client.members.join.mutate({ scopeId: r.id });
    const first = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'first' });
    const second = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'second' });
    expect(first.seq).toBeGreaterThan(1);
    const before = await alice.client.messages.list.query({ scopeId: r.id, aroundSeq: first.seq - 1, limit: 1 });
    expect(before.items).toEqual([]);
    expect(before.nextAfterSeq).toBe(first.seq - 1);
    expect((await alice.client.messages.list.query({ scopeId: r.id, afterSeq: before.nextAfterSeq!, limit: 1 })).items.map((m) => m.id)).toEqual([first.id]);
    const around = await alice.client.messages.list.query({ scopeId: r.id, aroundSeq: first.seq, limit: 1 });
    expect(around.items.map((m) => m.id)).toEqual([first.id]);
    expect(around.nextAfterSeq).toBe(first.seq);
    expect((await alice.client.messages.list.query({ scopeId: r.id, afterSeq: around.nextAfterSeq!, limit: 1 })).items.map((m) => m.id)).toEqual([second.id]);
  });

  it('gives a readable message for bad input', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    try {
      await alice.client.messages.send.mutate({ scopeId: r.id, body: 'x'.repeat(4001) });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe('invalid input: body: body must be at most 4000 characters');
    }
  });

  it('nests scopes only as the hierarchy allows', async () => {
    const alice = await user(a, 'alice');
    const { room: r } = await room(alice);
    expect(await codeOf(alice.client.scopes.create.mutate({ kind: 'room', parentId: r.id, name: 'x' }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.scopes.create.mutate({ kind: 'group', name: 'orphan' }))).toBe('BAD_REQUEST');
    const mallory = await user(a, 'mallory');
    expect(await codeOf(mallory.client.scopes.create.mutate({ kind: 'group', parentId: r.path[0]!, name: 'x' }))).toBe('FORBIDDEN');
  });
});

