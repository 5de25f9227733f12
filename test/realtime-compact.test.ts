import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { createTestDatabase } from './helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from './helpers/server.js';
import { collect } from './helpers/subscribe.js';
import { rawSocket, wsOnlyClient } from './helpers/ws-client.js';
import type { GuildhallServer } from '../src/server.js';
import type { Message, ScopeStreamEvent } from '../sdk/src/index.js';
import { compactEvent, expandEvent, isCompact } from '../src/realtime/compact.js';
import { WireEvent } from '../src/realtime/wire.js';

/** A conversation event's compact wire form (src/realtime/compact.ts) against superjson's. */

const scopeId = '3f1c5e0a-6a53-4a55-9a8e-1f0d2c3b4a59';
const alice = 'a0000000-0000-4000-8000-000000000001';
const bob = 'b0000000-0000-4000-8000-000000000002';
const at = new Date('2026-12-02T03:25:00.123Z');

function message(over: Partial<Message> = {}): Message {
  return {
    id: 'c0000000-0000-4000-8000-000000000003',
    scopeId,
    seq: 41,
    authorId: alice,
    body: 'hello',
    nonce: null,
    createdAt: at,
    replyToId: null,
    threadRootId: null,
    threadReplyCount: 0,
    editedAt: null,
    deletedAt: null,
    mentions: { userIds: [], roleIds: [], everyone: false },
    reactions: [],
    attachments: [],
    ...over,
  };
}

describe('compactEvent / expandEvent', () => {
  const events: ScopeStreamEvent[] = [
    { type: 'message.created', scopeId, seq: 41, actorId: alice, at, message: message() },
    {
      type: 'message.created',
      scopeId,
      seq: 42,
      actorId: alice,
      at,
      message: message({
        seq: 42,
        nonce: 'n-1',
        // A created time that differs from the event's (a replay's message row).
        createdAt: new Date(at.getTime() - 5),
        replyToId: 'c0000000-0000-4000-8000-000000000009',
        threadRootId: 'c0000000-0000-4000-8000-000000000008',
        threadReplyCount: 3,
        mentions: { userIds: [bob], roleIds: [], everyone: true },
        reactions: [{ emoji: '👍', count: 1, me: false, userIds: [bob] }],
        attachments: [
          {
            id: 'd0000000-0000-4000-8000-000000000004',
            purpose: 'message',
            scopeId,
            messageId: 'c0000000-0000-4000-8000-000000000003',
            ownerId: alice,
            filename: 'a.png',
            contentType: 'image/png',
            size: 10,
            status: 'ready',
            failureReason: null,
            isImage: true,
            width: 2,
            height: 1,
            animated: false,
            thumbhash: null,
            variants: [{ name: '160', width: 2, height: 1, size: 8 }],
            createdAt: new Date(at.getTime() - 60_000),
          },
        ],
      }),
    },
    // An edit by someone else than the author, of an earlier message, deleted since.
    { type: 'message.edited', scopeId, seq: 50, actorId: bob, at, message: message({ editedAt: at, deletedAt: new Date(at.getTime() + 1), body: '' }) },
    { type: 'message.deleted', scopeId, seq: 51, actorId: null, at, messageId: 'c0000000-0000-4000-8000-000000000003', messageSeq: 41 },
    { type: 'reaction.added', scopeId, seq: 52, actorId: bob, at, messageId: 'c0000000-0000-4000-8000-000000000003', emoji: '🎉', userId: bob, messageSeq: 41 },
    { type: 'member.left', scopeId, seq: 53, actorId: bob, at, userId: bob, reason: 'kicked' },
    { type: 'poll.updated', scopeId, seq: 54, actorId: null, at, pollId: 'p', messageId: 'm', resultsVisibility: 'afterVote', voterCount: 2, counts: null },
    { type: 'resync.required', scopeId, seq: 60, missed: 9000 },
  ];

  it('restores every event exactly, dates as Dates', () => {
    for (const e of events) {
      const c = compactEvent(e);
      expect(c, e.type).not.toBeNull();
      // What travels is JSON text.
      const wire = JSON.parse(JSON.stringify(c)) as unknown;
      expect(isCompact(wire)).toBe(true);
      const back = expandEvent(wire as never, scopeId, e.seq);
      expect(back, e.type).toEqual(e);
      if ('at' in back) expect(back.at).toBeInstanceOf(Date);
      if ('message' in back) expect(back.message.createdAt).toBeInstanceOf(Date);
    }
  });

  it('leaves out the scope, the seq, nulls, defaults and what repeats the event', () => {
    const text = JSON.stringify(compactEvent(events[0]!));
    expect(JSON.parse(text)).toEqual({
      type: 'message.created',
      actorId: alice,
      at: at.getTime(),
      message: { id: 'c0000000-0000-4000-8000-000000000003', body: 'hello' },
    });
  });

  it('decodes a bus message to the same event, Dates in place or through superjson for other types', () => {
    const odd = { ...events[0]!, seq: 70, extra: { big: 10n, when: new Date(5), 'a.b': new Date(6) } } as unknown as ScopeStreamEvent;
    for (const e of [...events, odd]) {
      const back = WireEvent.decode(scopeId, WireEvent.of(e).encode()).event();
      expect(back, e.type).toEqual(e);
      if ('message' in back) expect(back.message.createdAt).toBeInstanceOf(Date);
    }
    expect(compactEvent(odd)).toBeNull();
  });

  it('refuses an event that plain JSON cannot carry exactly, which then travels as superjson', () => {
    const odd = { type: 'event.created', scopeId, seq: 3, actorId: alice, at, eventId: 'e', title: 't', startsAt: new Date() } as unknown as ScopeStreamEvent;
    expect(compactEvent(odd)).toBeNull();
    expect(isCompact({ json: { type: 'x' }, meta: {} })).toBe(false);
  });
});

describe('the compact wire, end to end', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: GuildhallServer;
  const cleanup: (() => void)[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  });
  afterAll(async () => {
    for (const c of cleanup) c();
    await server?.close(100);
    await db?.drop();
  });

  /** A raw socket subscribed to a conversation (connectionParams as given): its data frames as text. */
  async function rawFrames(params: Record<string, string>, room: string) {
    const ws: WebSocket = await rawSocket(server.url, '?connectionParams=1');
    cleanup.push(() => ws.terminate());
    const frames: string[] = [];
    let wake: (() => void) | null = null;
    let started = false;
    ws.on('message', (d) => {
      const text = String(d);
      if (text === 'PING') return void ws.send('PONG');
      const m = JSON.parse(text) as { result?: { type: string } };
      if (m.result?.type === 'started') started = true;
      if (m.result?.type === 'data') frames.push(text);
      wake?.();
    });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((r) => (wake = r));
    };
    ws.send(JSON.stringify({ method: 'connectionParams', data: params }));
    ws.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'messages.onEvent', input: { json: { scopeId: room } } } }));
    await until(() => started);
    return { frames, until: (n: number) => until(() => frames.length >= n) };
  }

  it('the SDK sees the same typed events as a superjson client, from frames without nulls, empty arrays or meta', async () => {
    const a = await signUpClient(server.url, 'alice');
    const b = await signUpClient(server.url, 'bob');
    cleanup.push(() => closeClient(a.client), () => closeClient(b.client));
    const room = await a.client.scopes.create.mutate({ kind: 'community', name: 'compact' });
    await b.client.members.join.mutate({ scopeId: room.id });

    const sdk = collect<ScopeStreamEvent>((h) => a.client.messages.onEvent.subscribe({ scopeId: room.id }, h));
    const stock = wsOnlyClient(server.url, a.token);
    cleanup.push(stock.close);
    const plain = collect<ScopeStreamEvent>((h) => stock.client.messages.onEvent.subscribe({ scopeId: room.id }, h));
    const compactRaw = await rawFrames({ token: a.token, wire: 'compact' }, room.id);
    const fullRaw = await rawFrames({ token: a.token }, room.id);
    await Promise.all([sdk.started, plain.started]);

    const body = 'x'.repeat(200);
    const first = await b.client.messages.send.mutate({ scopeId: room.id, body });
    const second = await b.client.messages.send.mutate({ scopeId: room.id, body: `hi <@${a.userId}>`, nonce: 'nonce-1', replyToId: first.id });
    await b.client.messages.edit.mutate({ scopeId: room.id, messageId: second.id, body: 'edited' });
    await a.client.reactions.add.mutate({ scopeId: room.id, messageId: second.id, emoji: '👍' });
    await b.client.messages.delete.mutate({ scopeId: room.id, messageId: first.id });
    const n = 5;
    const [got, want] = await Promise.all([sdk.until(n), plain.until(n)]);
    expect(got.map((e) => e.type)).toEqual(['message.created', 'message.created', 'message.edited', 'reaction.added', 'message.deleted']);
    expect(got).toEqual(want);
    expect(sdk.ids).toEqual(plain.ids);
    const created = got[0] as Extract<ScopeStreamEvent, { type: 'message.created' }>;
    expect(created.at).toBeInstanceOf(Date);
    expect(created.message).toEqual(first);
    expect(created.message.createdAt).toBeInstanceOf(Date);

    await Promise.all([compactRaw.until(n), fullRaw.until(n)]);
    const frame = compactRaw.frames[0]!;
    expect(frame).toContain(body);
    for (const absent of ['null', '[]', '"meta"', '"json"', '"scopeId"', room.id, '"mentions"', '"nonce"']) expect(frame).not.toContain(absent);
    // Less than half the superjson frame of the same event.
    expect(Buffer.byteLength(frame)).toBeLessThan(Buffer.byteLength(fullRaw.frames[0]!) / 2);
    // A field that is not at its default travels.
    expect(compactRaw.frames[1]).toContain('"nonce":"nonce-1"');
    expect(compactRaw.frames[1]).toContain(`"replyToId":"${first.id}"`);
  });
});
