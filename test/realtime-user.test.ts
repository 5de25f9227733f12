import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/db.js';
import { codeOf, errCode } from './helpers/errors.js';
import { closeClient, signUpClient, startServer, testPrefix } from './helpers/server.js';
import { collect } from './helpers/subscribe.js';
import type { GuildhallServer } from '../src/server.js';
import type { RouterOutputs } from '../sdk/src/index.js';

type Out<T> = T extends AsyncIterable<infer E> ? (E extends { data: infer D } ? D : E) : never;
type UserEvent = Out<RouterOutputs['me']['onEvent']>;
type Typing = Out<RouterOutputs['typing']['onEvent']>;
type Presence = Out<RouterOutputs['presence']['onEvent']>;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: GuildhallServer;
let b: GuildhallServer;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const prefix = testPrefix();
  a = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
  b = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
});
afterAll(async () => {
  for (const c of cleanup) c();
  await Promise.all([a?.close(100), b?.close(100)]);
  await db?.drop();
});

async function user(server: GuildhallServer, name: string) {
  const u = await signUpClient(server.url, name);
  cleanup.push(() => closeClient(u.client));
  return u;
}

describe('the user stream (me.onEvent)', () => {
  it('carries joins, DMs-free membership changes and mentions, resumable across instances', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(b, 'bob');
    const mine = collect<UserEvent>((h) => alice.client.me.onEvent.subscribe({ lastEventId: '0' }, h));
    const c = await bob.client.scopes.create.mutate({ kind: 'community', name: 'c' });
    await alice.client.members.join.mutate({ scopeId: c.id });
    const [joined] = await mine.until(1);
    expect(joined).toMatchObject({ type: 'membership.changed', scopeId: c.id, change: 'joined', seq: 1 });

    const m = await bob.client.messages.send.mutate({ scopeId: c.id, body: `hey <@${alice.userId}>, look` });
    const events = await mine.until(2);
    expect(events[1]).toMatchObject({ type: 'mention', seq: 2, scopeId: c.id, messageId: m.id, authorId: bob.userId });
    expect(mine.ids).toEqual(['1', '2']);
    mine.stop();

    // Mentioning oneself is no notification; leaving is one. Resume on the other instance.
    await alice.client.messages.send.mutate({ scopeId: c.id, body: `note to <@${alice.userId}>` });
    await alice.client.members.leave.mutate({ scopeId: c.id });
    const { createClient } = await import('../sdk/src/index.js');
    const onB = createClient({ url: b.url, token: alice.token });
    cleanup.push(() => closeClient(onB));
    const resumed = collect<UserEvent>((h) => onB.me.onEvent.subscribe({ lastEventId: '2' }, h));
    const [left] = await resumed.until(1);
    expect(left).toMatchObject({ type: 'membership.changed', seq: 3, scopeId: c.id, change: 'left' });
    resumed.stop();
  });
});

describe('lastEventId checks', () => {
  it('says a lastEventId is too large, or ahead of the stream, in words that fit the stream', async () => {
    const alice = await user(a, 'alice');
    const c = await alice.client.scopes.create.mutate({ kind: 'community', name: 'c' });
    const fail = async (subscribe: Parameters<typeof collect>[0]) => {
      const err = (await collect(subscribe).error) as Error;
      return { code: errCode(err), message: err.message };
    };
    // All digits, but longer than any seq.
    expect(await fail((h) => alice.client.me.onEvent.subscribe({ lastEventId: '9223372036854775807' }, h))).toEqual({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/lastEventId is too large/),
    });
    expect(await fail((h) => alice.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: '9007199254740993' }, h))).toEqual({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/lastEventId is too large/),
    });
    expect(await fail((h) => alice.client.me.onEvent.subscribe({ lastEventId: '99999' }, h))).toEqual({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/ahead of your event stream/),
    });
    expect(await fail((h) => alice.client.messages.onEvent.subscribe({ scopeId: c.id, lastEventId: '99999' }, h))).toEqual({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/ahead of this conversation/),
    });
  });
});

describe('typing', () => {
  it('reaches subscribers on another instance, and is refused to outsiders', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(b, 'bob');
    const c = await alice.client.scopes.create.mutate({ kind: 'community', name: 'c' });
    await bob.client.members.join.mutate({ scopeId: c.id });
    const typing = collect<Typing>((h) => bob.client.typing.onEvent.subscribe({ scopeId: c.id }, h));
    await typing.started; // "started" comes once the server listens on the bus
    const notice = await alice.client.typing.start.mutate({ scopeId: c.id });
    expect(notice.until.getTime()).toBeGreaterThan(Date.now());
    const [got] = await typing.until(1);
    expect(got).toMatchObject({ scopeId: c.id, userId: alice.userId });
    expect(got!.until).toEqual(notice.until);
    const mallory = await user(a, 'mallory');
    expect(await codeOf(mallory.client.typing.start.mutate({ scopeId: c.id }))).toMatch(/FORBIDDEN|NOT_FOUND/);
    typing.stop();
  });
});

describe('presence', () => {
  it('follows connections across instances: offline, online, idle, offline', async () => {
    const carol = await user(a, 'carol');
    const dave = await user(b, 'dave');
    // Presence shows only to users who share a scope (issue 10): they share a community.
    const shared = await carol.client.scopes.create.mutate({ kind: 'community', name: 'shared' });
    await dave.client.members.join.mutate({ scopeId: shared.id });
    const watch = collect<Presence>((h) => carol.client.presence.onEvent.subscribe({ userIds: [dave.userId] }, h));
    expect((await watch.until(1))[0]).toEqual({ userId: dave.userId, status: 'offline' });
    // Dave connects (any subscription opens his socket) on the other instance.
    const daveSub = collect((h) => dave.client.me.onEvent.subscribe({}, h));
    await daveSub.started;
    expect((await watch.until(2))[1]).toEqual({ userId: dave.userId, status: 'online' });
    expect(await carol.client.presence.get.query({ userIds: [dave.userId] })).toEqual([{ userId: dave.userId, status: 'online' }]);
    await dave.client.presence.set.mutate({ status: 'idle' });
    expect((await watch.until(3))[2]).toEqual({ userId: dave.userId, status: 'idle' });
    daveSub.stop();
    closeClient(dave.client);
    expect((await watch.until(4))[3]).toEqual({ userId: dave.userId, status: 'offline' });
    watch.stop();
  });
});

describe('unread counts on the user stream', () => {
  it('pushes unread.changed when others write and when the user marks read elsewhere', async () => {
    const alice = await user(a, 'alice');
    const bob = await user(b, 'bob');
    const c = await bob.client.scopes.create.mutate({ kind: 'community', name: 'c' });
    await alice.client.members.join.mutate({ scopeId: c.id });
    const stream = collect<UserEvent>((h) => alice.client.me.onEvent.subscribe({}, h));
    await stream.started;
    await alice.client.messages.send.mutate({ scopeId: c.id, body: `self <@${alice.userId}>` }); // no notice: her own
    await bob.client.messages.send.mutate({ scopeId: c.id, body: 'one' });
    await bob.client.messages.send.mutate({ scopeId: c.id, body: `two <@${alice.userId}>` });
    // Wait for the notice that counts both of bob's messages (a burst may be one notice).
    let latest: UserEvent | undefined;
    for (let n = 1; !(latest?.type === 'unread.changed' && latest.unread === 2); n = stream.items.length + 1) {
      latest = (await stream.until(n)).filter((e) => e.type === 'unread.changed').at(-1);
    }
    expect(latest).toMatchObject({ type: 'unread.changed', scopeId: c.id, unread: 2, mentions: 1 });
    const [node] = await alice.client.scopes.tree.query({ rootId: c.id });
    expect(node).toMatchObject({ id: c.id, unreadCount: 2, mentionCount: 1 });
    // Marked read on another device (another instance): this stream hears it.
    const lastSeq = (await bob.client.scopes.get.query({ scopeId: c.id })).lastSeq;
    const { createClient } = await import('../sdk/src/index.js');
    const other = createClient({ url: b.url, token: alice.token });
    await other.readState.mark.mutate({ scopeId: c.id, seq: lastSeq });
    for (let n = stream.items.length + 1; !(latest?.type === 'unread.changed' && latest.unread === 0); n = stream.items.length + 1) {
      latest = (await stream.until(n)).filter((e) => e.type === 'unread.changed').at(-1);
    }
    expect(latest).toMatchObject({ type: 'unread.changed', scopeId: c.id, unread: 0, mentions: 0 });
    stream.stop();
  });
});
