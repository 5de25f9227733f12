import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type pg from 'pg';
import { createTestDatabase, rawPool } from './helpers/db.js';
import { errCode } from './helpers/errors.js';
import { closeClient, signUpClient, startServer, testPrefix } from './helpers/server.js';
import { collect, messageOf } from './helpers/subscribe.js';
import { rawSocket, wsOnlyClient } from './helpers/ws-client.js';
import type { GuildhallServer } from '../src/server.js';
import type { ScopeStreamEvent } from '../sdk/src/index.js';
import { socketGroupsOf } from '../src/realtime/socket-group.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: GuildhallServer;
let b: GuildhallServer;
let pool: pg.Pool;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = rawPool(db.url);
  const prefix = testPrefix();
  // No periodic sweep on `a`: gaps there must be repaired by the subscribers themselves.
  a = await startServer({ databaseUrl: db.url, redisPrefix: prefix, env: { REPLAY_MAX_EVENTS: '50', REALTIME_SWEEP_MS: '600000' } });
  b = await startServer({ databaseUrl: db.url, redisPrefix: prefix, env: { WS_MAX_BUFFERED_BYTES: String(64 * 1024) } });
});
afterAll(async () => {
  for (const c of cleanup) c();
  await Promise.all([a?.close(100), b?.close(100)]);
  await pool?.end();
  await db?.drop();
});

async function user(server: GuildhallServer, name: string) {
  const u = await signUpClient(server.url, name);
  cleanup.push(() => closeClient(u.client));
  return u;
}

/** A community owned by `owner` that `members` joined. */
async function community(owner: Awaited<ReturnType<typeof user>>, ...members: Awaited<ReturnType<typeof user>>[]) {
  const c = await owner.client.scopes.create.mutate({ kind: 'community', name: 'Guild' });
  for (const m of members) await m.client.members.join.mutate({ scopeId: c.id });
  return c;
}

/**
 * A raw wsLink client with one subscription (id 1) to a conversation: the seqs of the data
 * frames it receives, in order.
 */
async function rawSubscriber(server: GuildhallServer, token: string, scopeId: string, lastEventId: number) {
  const ws = await rawSocket(server.url, '?connectionParams=1');
  const seqs: number[] = [];
  let started = false;
  let stopped = false;
  let wake: (() => void) | null = null;
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((r) => (wake = r));
  };
  ws.on('message', (d) => {
    // The server's keep-alive (every 30 s; a slow run outlives it): answer as a client must.
    if (String(d) === 'PING') return void ws.send('PONG');
    const m = JSON.parse(String(d)) as { id: number; result?: { type: string; id?: string } };
    if (m.result?.type === 'started') started = true;
    if (m.result?.type === 'stopped') stopped = true;
    if (m.result?.type === 'data') seqs.push(Number(m.result.id));
    wake?.();
  });
  cleanup.push(() => ws.terminate());
  ws.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
  ws.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'messages.onEvent', input: { json: { scopeId } }, lastEventId: String(lastEventId) } }));
  await until(() => started);
  return {
    seqs,
    /** Resolves once the last seq received is at least `seq`. */
    reach: (seq: number) => until(() => (seqs.at(-1) ?? 0) >= seq),
    /** Stops the subscription and resolves once the server said `stopped`. */
    stop: async () => {
      ws.send(JSON.stringify({ id: 1, method: 'subscription.stop' }));
      await until(() => stopped);
    },
  };
}

describe('the WebSocket protocol, byte for byte', () => {
  it('speaks wsLink: started, tracked data frames, stopped', async () => {
    const alice = await user(a, 'alice');
    const c = await community(alice);
    const ws = await rawSocket(a.url, '?connectionParams=1');
    const frames: unknown[] = [];
    let waiter: (() => void) | null = null;
    ws.on('message', (d) => {
      frames.push(JSON.parse(d.toString()));
      waiter?.();
    });
    const until = async (n: number) => {
      while (frames.length < n) await new Promise<void>((r) => (waiter = r));
    };
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: alice.token } }));
    ws.send(JSON.stringify({ id: 7, jsonrpc: '2.0', method: 'subscription', params: { path: 'messages.onEvent', input: { json: { scopeId: c.id } }, lastEventId: '0' } }));
    await until(1);
    expect(frames[0]).toEqual({ id: 7, jsonrpc: '2.0', result: { type: 'started' } });
    const sent = await alice.client.messages.send.mutate({ scopeId: c.id, body: 'over the wire' });
    await until(2);
    const frame = frames[1] as { id: number; result: { type: string; id: string; data: { json: { id: string; data: { type: string; message: { body: string } } }; meta: unknown } } };
    expect(frame.id).toBe(7);
    expect(frame.result.type).toBe('data');
    expect(frame.result.id).toBe(String(sent.seq));
    expect(frame.result.data.json.id).toBe(String(sent.seq));
    expect(frame.result.data.json.data.type).toBe('message.created');
    expect(frame.result.data.json.data.message.body).toBe('over the wire');
    expect(frame.result.data.meta).toBeDefined(); // superjson metadata: the dates survive
    ws.send(JSON.stringify({ id: 7, method: 'subscription.stop' }));
    await until(3);
    expect(frames[2]).toEqual({ id: 7, jsonrpc: '2.0', result: { type: 'stopped' } });
    ws.close();
  });

  it('serves queries, mutations and subscriptions to a stock client over WebSocket only', async () => {
    const alice = await user(a, 'alice');
    const { client, close } = wsOnlyClient(a.url, alice.token);
    cleanup.push(close);
    expect((await client.auth.me.query()).id).toBe(alice.userId);
    const c = await client.scopes.create.mutate({ kind: 'community', name: 'ws only' });
    const sub = collect<ScopeStreamEvent>((h) => client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: '0' }, h));
    await client.messages.send.mutate({ scopeId: c.id, body: 'via ws' });
    expect(messageOf((await sub.until(1))[0]!).body).toBe('via ws');
    const bad = await client.messages.send.mutate({ scopeId: c.id, body: '' }).catch((e: unknown) => e);
    expect(errCode(bad)).toBe('BAD_REQUEST');
    sub.stop();
  });
});

describe('delivery under failure', () => {
  it('repairs lost publishes: every subscriber on both instances gets every event once, in order', async () => {
    const alice = await user(a, 'alice');
    const subscribers = [await user(a, 's1'), await user(a, 's2'), await user(b, 's3'), await user(b, 's4')];
    const c = await community(alice, ...subscribers);
    const start = (await alice.client.scopes.get.query({ scopeId: c.id })).lastSeq; // after the joins
    const subs = subscribers.map((s) =>
      collect<ScopeStreamEvent>((h) => s.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: String(start) }, h)),
    );
    // Drop every third publish on the instance that sends: those events reach no bus.
    let dropped = 0;
    a.services.hub.dropPublish = (e) => e.seq % 3 === 0 && ++dropped > 0;
    try {
      for (let i = 1; i <= 30; i++) await alice.client.messages.send.mutate({ scopeId: c.id, body: `m${i}` });
      // The last one (seq 31) is published, so every subscriber learns of the gaps before it.
      a.services.hub.dropPublish = null;
      await alice.client.messages.send.mutate({ scopeId: c.id, body: 'm31' });
      for (const s of subs) {
        const events = await s.until(31);
        expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 31 }, (_, i) => start + i + 1));
        expect(events.map((e) => messageOf(e).body)).toEqual(Array.from({ length: 31 }, (_, i) => `m${i + 1}`));
        s.stop();
      }
      expect(dropped).toBe(10);
    } finally {
      a.services.hub.dropPublish = null;
    }
  });

  it('sockets that share frames (same subscription id, one instance) each get every event once, in order, through gaps, a late joiner and a leaver', async () => {
    const alice = await user(a, 'alice');
    const c = await community(alice);
    const send = (body: string) => alice.client.messages.send.mutate({ scopeId: c.id, body });
    const start = (await alice.client.scopes.get.query({ scopeId: c.id })).lastSeq;
    const groups = socketGroupsOf(a.services.hub);
    const early = await Promise.all([1, 2, 3].map(() => rawSubscriber(a, alice.token, c.id, start)));
    await send('m1');
    await Promise.all(early.map((s) => s.reach(start + 1)));
    await send('m2');
    await Promise.all(early.map((s) => s.reach(start + 2)));
    // In step: the group's loop writes for all three.
    expect(groups.members).toBe(3);
    // Every third publish is lost: each gap sends the members back to the database.
    let dropped = 0;
    a.services.hub.dropPublish = (e) => e.seq % 3 === 0 && ++dropped > 0;
    try {
      for (let i = 3; i <= 12; i++) await send(`m${i}`);
      // One leaves in the middle, one comes late and replays from the start.
      await early[1]!.stop();
      const late = await rawSubscriber(a, alice.token, c.id, start);
      for (let i = 13; i <= 20; i++) await send(`m${i}`);
      a.services.hub.dropPublish = null;
      await send('m21'); // published: every subscriber learns of the gaps before it
      const all = Array.from({ length: 21 }, (_, i) => start + i + 1);
      for (const s of [early[0]!, early[2]!, late]) {
        await s.reach(start + 21);
        expect(s.seqs).toEqual(all);
      }
      const left = early[1]!.seqs;
      expect(left).toEqual(all.slice(0, left.length));
      expect(dropped).toBeGreaterThan(0);
      // Back in step after the last (published) event.
      await send('m22');
      for (const s of [early[0]!, early[2]!, late]) await s.reach(start + 22);
      expect(groups.members).toBe(3);
      for (const s of [early[0]!, early[2]!, late]) await s.stop();
      expect(groups.size).toBe(0);
    } finally {
      a.services.hub.dropPublish = null;
    }
  });

  it('tells a subscriber who is too far behind to refetch instead of flooding it', async () => {
    const alice = await user(a, 'alice');
    const c = await community(alice);
    for (let i = 1; i <= 60; i++) await alice.client.messages.send.mutate({ scopeId: c.id, body: `m${i}` });
    const sub = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: '3' }, h));
    const [first] = await sub.until(1);
    expect(first).toEqual({ type: 'resync.required', scopeId: c.id, seq: 60, missed: 57 });
    expect(sub.ids[0]).toBe('60');
    await alice.client.messages.send.mutate({ scopeId: c.id, body: 'after resync' });
    const events = await sub.until(2);
    expect(events[1]).toMatchObject({ type: 'message.created', seq: 61 });
    // Within the limit it replays instead.
    const near = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: '30' }, h));
    const replayed = await near.until(31);
    expect(replayed.map((e) => e.seq)).toEqual(Array.from({ length: 31 }, (_, i) => 31 + i));
    sub.stop();
    near.stop();
  });

  it('drops a slow reader instead of buffering without bound, and it resumes without loss', async () => {
    const alice = await user(b, 'alice');
    const c = await community(alice);
    const before = new Set(b.wsClients());
    const slow = await rawSocket(b.url, '?connectionParams=1');
    const serverSide = [...b.wsClients()].find((w) => !before.has(w))!;
    const closed = new Promise<void>((r) => (serverSide.readyState === WebSocket.CLOSED ? r() : serverSide.once('close', () => r())));
    slow.send(JSON.stringify({ method: 'connectionParams', data: { token: alice.token } }));
    slow.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'messages.onEvent', input: { json: { scopeId: c.id } }, lastEventId: '0' } }));
    await new Promise<void>((r) => slow.once('message', () => r())); // started
    // Stop reading: the kernel buffers fill, then the server's send buffer grows.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    // Large events written straight into the log (256 KB bodies, past the API's limit, to
    // fill buffers fast), then published as the server publishes committed events.
    const count = 80;
    for (let i = 0; i < count; i++) {
      await pool.query(
        `with e as (insert into scope_events (scope_id, seq, type, actor_id, message_id)
                    values ($1, 0, 'message.created', $2, gen_random_uuid()) returning seq, message_id)
         insert into messages (id, scope_id, seq, author_id, body) select message_id, $1, seq, $2, repeat('x', 262144) from e`,
        [c.id, alice.userId],
      );
    }
    for (const ev of await b.services.messages.eventsAfter(c.id, 0, count)) await b.services.hub.publish(ev);
    const sent = count;
    await closed; // the server dropped it rather than buffer 20 MB for it
    slow.terminate();
    // The client comes back and resumes from where it was: everything, once, in order.
    const again = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: '0' }, h));
    const events = await again.until(sent);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    again.stop();
  });
});

describe('revocation', () => {
  it('ends a subscription with FORBIDDEN on every instance when access ends', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(a, 'bob');
    const c = await community(alice, bob);
    const room = await alice.client.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'r' });
    await bob.client.members.join.mutate({ scopeId: room.id });
    const from = (await bob.client.scopes.get.query({ scopeId: room.id })).lastSeq;
    const bobOnA = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: room.id, lastEventId: String(from) }, h));
    await alice.client.messages.send.mutate({ scopeId: room.id, body: 'before' });
    await bobOnA.until(1);
    // Bob leaves the community (the membership trigger removes the room below too), and the
    // change is announced on the other instance.
    await pool.query(`delete from memberships where scope_id = $1 and user_id = $2`, [c.id, bob.userId]);
    await b.services.hub.accessChanged({ scopeId: c.id, userId: bob.userId });
    expect(errCode(await bobOnA.error)).toBe('FORBIDDEN');
    await alice.client.messages.send.mutate({ scopeId: room.id, body: 'after' });
    expect(bobOnA.items).toHaveLength(1);
    // And he cannot come back with his old lastEventId.
    const resume = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: room.id, lastEventId: String(from) }, h));
    expect(['FORBIDDEN', 'NOT_FOUND']).toContain(errCode(await resume.error));
  });
});

describe('limits per connection', () => {
  it('refuses a subscription past the per-socket limit with TOO_MANY_REQUESTS, and keeps the others', async () => {
    const alice = await user(a, 'alice');
    const c = await community(alice);
    const ws = await rawSocket(a.url, '?connectionParams=1');
    const replies = new Map<number, { result?: { type: string }; error?: { json: { data: { code: string } } } }>();
    let waiter: (() => void) | null = null;
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (!replies.has(m.id)) replies.set(m.id, m);
      waiter?.();
    });
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: alice.token } }));
    for (let id = 1; id <= 201; id++) {
      ws.send(JSON.stringify({ id, method: 'subscription', params: { path: 'messages.onEvent', input: { json: { scopeId: c.id } } } }));
    }
    while (replies.size < 201) await new Promise<void>((r) => (waiter = r));
    const refused = [...replies.values()].filter((m) => m.error);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.error!.json.data.code).toBe('TOO_MANY_REQUESTS');
    expect([...replies.values()].filter((m) => m.result?.type === 'started')).toHaveLength(200);
    ws.close();
  });
});

describe('moderation reaches open clients', () => {
  it("a ban's purge deletes the banned user's recent messages live, on every instance", async () => {
    const owner = await user(a, 'owner');
    const spammer = await user(a, 'spammer');
    const watcher = await user(b, 'watcher');
    const c = await community(owner, spammer, watcher);
    const from = (await owner.client.scopes.get.query({ scopeId: c.id })).lastSeq;
    const sub = collect<ScopeStreamEvent>((h) => watcher.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: String(from) }, h));
    const spam = [];
    for (let i = 0; i < 3; i++) spam.push(await spammer.client.messages.send.mutate({ scopeId: c.id, body: `buy now ${i}` }));
    const kept = await owner.client.messages.send.mutate({ scopeId: c.id, body: 'welcome' });
    const { purged } = await owner.client.moderation.ban.mutate({ scopeId: c.id, userId: spammer.userId, purgeSeconds: 3600 });
    expect(purged).toBe(3);
    // 4 messages, the ban's member.left, then one message.deleted per purged message.
    const events = await sub.until(8);
    const deleted = events.filter((e) => e.type === 'message.deleted').map((e) => (e as { messageId: string }).messageId);
    expect(deleted.sort()).toEqual(spam.map((m) => m.id).sort());
    const page = await watcher.client.messages.list.query({ scopeId: c.id, limit: 10 });
    expect(page.items.map((m) => m.id)).toEqual([kept.id]);
    sub.stop();
  });
});

describe('many subscriptions at once', () => {
  it('starts 60 subscriptions the SDK opens in one tick (one WebSocket frame)', async () => {
    const alice = await user(a, 'alice');
    const c = await community(alice);
    const rooms = [];
    for (let i = 0; i < 60; i++) rooms.push(await alice.client.scopes.create.mutate({ kind: 'room', parentId: c.id, name: `r${i}` }));
    const subs = rooms.map((r) => collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: r.id }, h)));
    await Promise.all(subs.map((s) => s.started));
    await alice.client.messages.send.mutate({ scopeId: rooms[59]!.id, body: 'last room' });
    expect(messageOf((await subs[59]!.until(1))[0]!).body).toBe('last room');
    for (const s of subs) s.stop();
  });

  it('answers each call of an oversized frame with its own error', async () => {
    const alice = await user(a, 'alice');
    const ws = await rawSocket(a.url, '?connectionParams=1');
    const ids = new Set<number>();
    let waiter: (() => void) | null = null;
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { id: number; error?: { json: { message: string } } };
      if (m.error) {
        expect(m.error.json.message).toBe('a frame holds at most 200 calls (got 201)');
        ids.add(m.id);
      }
      waiter?.();
    });
    ws.send(JSON.stringify({ method: 'connectionParams', data: { token: alice.token } }));
    ws.send(JSON.stringify(Array.from({ length: 201 }, (_, i) => ({ id: i + 1, method: 'query', params: { path: 'auth.me' } }))));
    while (ids.size < 201) await new Promise<void>((r) => (waiter = r));
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
    ws.close();
  });
});
