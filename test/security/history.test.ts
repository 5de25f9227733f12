import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { codeOf } from '../helpers/errors.js';
import { collect } from '../helpers/subscribe.js';
import { sseSubscribe } from '../helpers/sse.js';
import { governanceEnv, wsOnlyClient } from '../governance/fixture.js';

let env: Awaited<ReturnType<typeof governanceEnv>>;
beforeAll(async () => {
  env = await governanceEnv();
});
afterAll(async () => {
  await env?.close();
});

/** What an event is about: the message id, for the events that have one. */
const about = (e: ScopeStreamEvent) => ('message' in e ? e.message.id : 'messageId' in e ? e.messageId : null);

describe('historyVisibility (Matrix history_visibility: shared or joined)', () => {
  it('joined: a later member sees nothing from before its join, in any read, replay or live event', async () => {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'H' });
    const room = await owner.http.scopes.create.mutate({ kind: 'room', parentId: c.id, name: 'r', historyVisibility: 'joined' });
    expect(room.historyVisibility).toBe('joined');
    const early = await owner.http.messages.send.mutate({ scopeId: room.id, body: 'before the join zebra' });
    await owner.http.messages.send.mutate({ scopeId: room.id, body: 'a reply in the thread', threadRootId: early.id });
    await owner.http.pins.add.mutate({ scopeId: room.id, messageId: early.id });
    const late = await env.user('late');
    await late.http.members.join.mutate({ scopeId: c.id });
    await late.http.members.join.mutate({ scopeId: room.id });
    const after = await owner.http.messages.send.mutate({ scopeId: room.id, body: 'after the join zebra' });

    for (const k of [late.http, late.ws]) {
      expect((await k.messages.list.query({ scopeId: room.id })).items.map((m) => m.id)).toEqual([after.id]);
      expect((await k.messages.list.query({ scopeId: room.id, afterSeq: 0 })).items.map((m) => m.id)).toEqual([after.id]);
      expect(await codeOf(k.messages.get.query({ scopeId: room.id, messageId: early.id }))).toBe('NOT_FOUND');
      expect(await codeOf(k.messages.history.query({ scopeId: room.id, messageId: early.id }))).toBe('NOT_FOUND');
      expect(await codeOf(k.messages.thread.query({ scopeId: room.id, rootId: early.id }))).toBe('NOT_FOUND');
      expect((await k.messages.search.query({ scopeId: room.id, query: 'zebra' })).items.map((m) => m.id)).toEqual([after.id]);
      expect((await k.messages.search.query({ communityId: c.id, query: 'zebra' })).items.map((m) => m.id)).toEqual([after.id]);
      expect(await k.pins.list.query({ scopeId: room.id })).toEqual([]);
      expect((await k.messages.get.query({ scopeId: room.id, messageId: after.id })).id).toBe(after.id);
      // Reacting to it would hand back its body: as absent as it is to every read.
      expect(await codeOf(k.reactions.add.mutate({ scopeId: room.id, messageId: early.id, emoji: '👀' }))).toBe('NOT_FOUND');
      expect(await codeOf(k.reactions.remove.mutate({ scopeId: room.id, messageId: early.id, emoji: '👀' }))).toBe('NOT_FOUND');
    }
    // The owner (and anyone in a shared scope) still sees it all.
    expect((await owner.http.messages.list.query({ scopeId: room.id })).items).toHaveLength(2);

    // Replay from the start, and live: on both instances, over WebSocket (alongside the
    // owner's socket, so the socket group's loop is in play) and SSE.
    const ownerWs = wsOnlyClient(env.a.url, owner.token);
    const ownerSub = collect<ScopeStreamEvent>((h) => ownerWs.client.messages.onEvent.subscribe({ scopeId: room.id }, h));
    await ownerSub.started;
    const lateB = wsOnlyClient(env.b.url, late.token);
    const subs = [
      collect<ScopeStreamEvent>((h) => late.ws.messages.onEvent.subscribe({ scopeId: room.id, lastEventId: '0' }, h)),
      collect<ScopeStreamEvent>((h) => lateB.client.messages.onEvent.subscribe({ scopeId: room.id }, h)),
      collect<ScopeStreamEvent>((h) => late.ws.messages.onEvent.subscribe({ scopeId: room.id }, h)),
    ];
    const sse = sseSubscribe(env.b.url, 'messages.onEvent', { scopeId: room.id, lastEventId: '0' }, late.token);
    await Promise.all([...subs.map((s) => s.started), sse.connected]);
    await owner.http.messages.edit.mutate({ scopeId: room.id, messageId: early.id, body: 'edited before' });
    await owner.http.reactions.add.mutate({ scopeId: room.id, messageId: early.id, emoji: '👍' });
    await owner.http.pins.remove.mutate({ scopeId: room.id, messageId: early.id });
    await owner.http.reactions.add.mutate({ scopeId: room.id, messageId: after.id, emoji: '👍' });
    await owner.http.messages.delete.mutate({ scopeId: room.id, messageId: early.id });
    const last = await owner.http.messages.send.mutate({ scopeId: room.id, body: 'the end' });
    const untilLast = async (items: () => ScopeStreamEvent[], more: () => Promise<unknown>) => {
      while (!items().some((e) => e.type === 'message.created' && e.message.id === last.id)) await more();
      return items();
    };
    for (const s of subs) {
      const got = await untilLast(() => s.items, () => s.until(s.items.length + 1));
      expect(got.filter((e) => about(e) === early.id)).toEqual([]);
      expect(got.some((e) => e.type === 'reaction.added' && e.messageId === after.id)).toBe(true);
    }
    const sseGot = await untilLast(() => sse.items as ScopeStreamEvent[], () => sse.until(sse.items.length + 1));
    expect(sseGot.filter((e) => about(e) === early.id)).toEqual([]);
    expect(sseGot.some((e) => e.type === 'message.created' && e.message.id === after.id)).toBe(true);
    // The owner saw every one of them.
    expect(ownerSub.items.filter((e) => about(e) === early.id).length).toBeGreaterThanOrEqual(4);
    for (const s of [...subs, ownerSub]) s.stop();
    sse.close();
    ownerWs.close();
    lateB.close();
  });

  it('shared (the default): a later member reads the history', async () => {
    const owner = await env.user('owner');
    const c = await owner.http.scopes.create.mutate({ kind: 'community', name: 'S' });
    expect(c.historyVisibility).toBe('shared');
    const early = await owner.http.messages.send.mutate({ scopeId: c.id, body: 'old' });
    const late = await env.user('late');
    await late.http.members.join.mutate({ scopeId: c.id });
    expect((await late.http.messages.get.query({ scopeId: c.id, messageId: early.id })).id).toBe(early.id);
    // Switching to joined applies from then on to members who joined after.
    await owner.http.scopes.update.mutate({ scopeId: c.id, historyVisibility: 'joined' });
    expect(await codeOf(late.http.messages.get.query({ scopeId: c.id, messageId: early.id }))).toBe('NOT_FOUND');
    expect(await codeOf(late.http.scopes.update.mutate({ scopeId: c.id, historyVisibility: 'shared' }))).toBe('FORBIDDEN');
  });
});
