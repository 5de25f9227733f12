import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/errors.js';
import { collect, messageOf } from '../helpers/subscribe.js';
import { parseMentions } from '../../src/messages/mentions.js';
import { limits } from '../../src/config.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { useServers } from './setup.js';

const { ctx, user, room } = useServers();
const MISSING = '00000000-0000-4000-8000-000000000000';

describe('mention syntax', () => {
  it('parses users, roles and @everyone, distinct and sorted', () => {
    const u1 = '11111111-1111-4111-8111-111111111111';
    const u2 = '22222222-2222-4222-8222-222222222222';
    const r1 = '33333333-3333-4333-8333-333333333333';
    expect(parseMentions(`hi <@${u2}> and <@${u1}>, <@${u2}> again; <@&${r1}> @everyone`)).toEqual({
      userIds: [u1, u2],
      roleIds: [r1],
      everyone: true,
    });
    expect(parseMentions('mail me at team@everyone.com or <@not-a-uuid>')).toEqual({ userIds: [], roleIds: [], everyone: false });
    expect(parseMentions('@everyone').everyone).toBe(true);
    expect(parseMentions('(@everyone)').everyone).toBe(true);
  });
});

describe('send: replies, threads, mentions', () => {
  it('keeps threads one level deep and replies in their own timeline', async () => {
    const alice = await user('alice');
    const { room: r, community } = await room(alice);
    const root = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'root' });
    const inThread = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'in thread', threadRootId: root.id });
    expect(inThread).toMatchObject({ threadRootId: root.id, replyToId: null });
    const replyInThread = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'reply', threadRootId: root.id, replyToId: inThread.id });
    expect(replyInThread.replyToId).toBe(inThread.id);
    const mainReply = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'main reply', replyToId: root.id });
    expect(mainReply).toMatchObject({ replyToId: root.id, threadRootId: null });

    const before = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    // A reply in a thread cannot root a thread.
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', threadRootId: inThread.id }))).toBe('BAD_REQUEST');
    // Replying to a thread message from the main timeline, or across threads.
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', replyToId: inThread.id }))).toBe('BAD_REQUEST');
    const other = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'other root' });
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', threadRootId: other.id, replyToId: inThread.id }))).toBe('BAD_REQUEST');
    // Unknown, or in another scope.
    const elsewhere = await alice.client.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'elsewhere' });
    const foreign = await alice.client.messages.send.mutate({ scopeId: elsewhere.id, body: 'foreign' });
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', threadRootId: foreign.id }))).toBe('NOT_FOUND');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', replyToId: MISSING }))).toBe('NOT_FOUND');
    // A deleted root takes no replies.
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: other.id });
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', threadRootId: other.id }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'x', replyToId: other.id }))).toBe('BAD_REQUEST');
    // The refused sends wrote nothing: other root (1) + its delete (1) since `before`.
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(before + 2);

    const t = await alice.client.messages.thread.query({ scopeId: r.id, rootId: root.id });
    expect(t.root).toMatchObject({ id: root.id, threadReplyCount: 2 });
    expect(t.items.map((m) => m.body)).toEqual(['in thread', 'reply']);
    expect(t.nextAfterSeq).toBeNull();
    const p1 = await alice.client.messages.thread.query({ scopeId: r.id, rootId: root.id, limit: 1 });
    expect(p1.items.map((m) => m.body)).toEqual(['in thread']);
    const p2 = await alice.client.messages.thread.query({ scopeId: r.id, rootId: root.id, limit: 1, afterSeq: p1.nextAfterSeq! });
    expect(p2).toMatchObject({ items: [{ body: 'reply' }], nextAfterSeq: null });
    expect(await codeOf(alice.client.messages.thread.query({ scopeId: r.id, rootId: inThread.id }))).toBe('BAD_REQUEST');
    // The main timeline leaves thread replies out.
    const main = await alice.client.messages.list.query({ scopeId: r.id });
    expect(main.items.map((m) => m.body)).toEqual(['main reply', 'root']);
    // Deleting a reply lowers the root's count.
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: replyInThread.id });
    expect((await alice.client.messages.get.query({ scopeId: r.id, messageId: root.id })).threadReplyCount).toBe(1);
  });

  it('stores mentions, caps them, and lets only holders of MentionEveryone say @everyone', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: `hey <@${bob.userId}> and @everyone` });
    expect(m.mentions).toEqual({ userIds: [bob.userId], roleIds: [], everyone: true });
    expect((await bob.client.messages.get.query({ scopeId: r.id, messageId: m.id })).mentions.userIds).toEqual([bob.userId]);

    const before = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    expect(await codeOf(bob.client.messages.send.mutate({ scopeId: r.id, body: 'wake up @everyone' }))).toBe('FORBIDDEN');
    const ids = Array.from({ length: limits.mentionsPerMessageMax + 1 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    try {
      await alice.client.messages.send.mutate({ scopeId: r.id, body: ids.map((id) => `<@${id}>`).join(' ') });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/at most 20 users and roles/);
    }
    const ok = await alice.client.messages.send.mutate({ scopeId: r.id, body: ids.slice(0, 20).map((id) => `<@${id}>`).join(' ') });
    expect(ok.mentions.userIds).toHaveLength(20);
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(before + 1);
    // Bob may not add @everyone by editing either.
    const plain = await bob.client.messages.send.mutate({ scopeId: r.id, body: 'plain' });
    expect(await codeOf(bob.client.messages.edit.mutate({ scopeId: r.id, messageId: plain.id, body: '@everyone' }))).toBe('FORBIDDEN');
  });
});

describe('edit, history, delete', () => {
  it('lets only the author edit and keeps every version', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'v0' });
    const e1 = await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: 'v1' });
    expect(e1.body).toBe('v1');
    expect(e1.editedAt).toBeInstanceOf(Date);
    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: 'v2' });
    const same = await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: 'v2' });
    expect(same.body).toBe('v2');
    expect(await codeOf(bob.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: 'hacked' }))).toBe('FORBIDDEN');
    expect(await codeOf(alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: '  ' }))).toBe('BAD_REQUEST');
    expect(await codeOf(alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: 'x'.repeat(4001) }))).toBe('BAD_REQUEST');
    const history = await bob.client.messages.history.query({ scopeId: r.id, messageId: m.id });
    expect(history.map((v) => [v.version, v.body])).toEqual([
      [0, 'v0'],
      [1, 'v1'],
      [2, 'v2'],
    ]);
    expect(history[0]!.at).toEqual(m.createdAt);
    // send (1) + two edits (2): the no-op edit and the refused ones took no seq.
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(m.seq + 2);
  });

  it('removes a deleted body from every read, including the replay of its events', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const { room: r } = await room(alice, [bob, carol]);
    const secret = await bob.client.messages.send.mutate({ scopeId: r.id, body: 'the secret zanzibar word' });
    await bob.client.messages.edit.mutate({ scopeId: r.id, messageId: secret.id, body: 'the secret zanzibar word, edited' });
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: secret.id, emoji: '👍' });
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: secret.id });
    const keep = await bob.client.messages.send.mutate({ scopeId: r.id, body: 'zanzibar is nice' });
    expect((await bob.client.messages.search.query({ scopeId: r.id, query: 'secret' })).items).toHaveLength(1);

    // Carol is neither the author nor a holder of ManageMessages.
    expect(await codeOf(carol.client.messages.delete.mutate({ scopeId: r.id, messageId: secret.id }))).toBe('FORBIDDEN');
    const gone = await bob.client.messages.delete.mutate({ scopeId: r.id, messageId: secret.id });
    expect(gone).toMatchObject({ body: '', reactions: [], mentions: { userIds: [], roleIds: [], everyone: false } });
    expect(gone.deletedAt).toBeInstanceOf(Date);
    // Deleting again changes nothing.
    const lastSeq = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    await bob.client.messages.delete.mutate({ scopeId: r.id, messageId: secret.id });
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(lastSeq);

    expect((await carol.client.messages.list.query({ scopeId: r.id })).items.map((m) => m.id)).toEqual([keep.id]);
    expect(await carol.client.messages.get.query({ scopeId: r.id, messageId: secret.id })).toMatchObject({ body: '', deletedAt: expect.any(Date) });
    expect((await carol.client.messages.search.query({ scopeId: r.id, query: 'secret' })).items).toEqual([]);
    expect((await carol.client.messages.search.query({ scopeId: r.id, query: 'zanzibar' })).items.map((m) => m.id)).toEqual([keep.id]);
    expect(await codeOf(carol.client.messages.history.query({ scopeId: r.id, messageId: secret.id }))).toBe('NOT_FOUND');
    expect(await carol.client.pins.list.query({ scopeId: r.id })).toEqual([]);
    expect(await codeOf(carol.client.messages.edit.mutate({ scopeId: r.id, messageId: secret.id, body: 'x' }))).toBe('FORBIDDEN');
    expect(await codeOf(bob.client.messages.edit.mutate({ scopeId: r.id, messageId: secret.id, body: 'back' }))).toBe('BAD_REQUEST');

    const replay = collect<ScopeStreamEvent>((h) => carol.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: '0' }, h));
    const events = await replay.until(lastSeq);
    replay.stop();
    const created = events.find((e) => e.type === 'message.created' && e.message.id === secret.id)!;
    const edited = events.find((e) => e.type === 'message.edited')!;
    expect(messageOf(created)).toMatchObject({ body: '', deletedAt: expect.any(Date) });
    expect(messageOf(edited)).toMatchObject({ body: '' });
    expect(JSON.stringify(events)).not.toContain('secret');
    expect(events.map((e) => e.type).slice(-3)).toEqual(['message.created', 'message.deleted', 'message.unpinned']);

    // The owner holds ManageMessages and may delete someone else's message.
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: keep.id });
    expect((await carol.client.messages.list.query({ scopeId: r.id })).items).toEqual([]);
  });
});

describe('history pages', () => {
  it('pages before, after and around a seq, keyset only', async () => {
    const alice = await user('alice');
    const { room: r } = await room(alice);
    const sent = [];
    for (let i = 1; i <= 9; i++) sent.push(await alice.client.messages.send.mutate({ scopeId: r.id, body: `m${i}` }));
    const seqs = sent.map((m) => m.seq); // 1..9
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const list = (input: Record<string, number>) => alice.client.messages.list.query({ scopeId: r.id, ...input });

    const newest = await list({ limit: 3 });
    expect(newest.items.map((m) => m.seq)).toEqual([9, 8, 7]);
    expect(newest).toMatchObject({ nextBeforeSeq: 7, nextAfterSeq: null });
    const older = await list({ limit: 3, beforeSeq: 7 });
    expect(older.items.map((m) => m.seq)).toEqual([6, 5, 4]);
    expect(older).toMatchObject({ nextBeforeSeq: 4, nextAfterSeq: 6 });
    const oldest = await list({ limit: 5, beforeSeq: 4 });
    expect(oldest).toMatchObject({ nextBeforeSeq: null, nextAfterSeq: 3 });
    expect(oldest.items.map((m) => m.seq)).toEqual([3, 2, 1]);

    const after = await list({ limit: 3, afterSeq: 2 });
    expect(after.items.map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(after).toMatchObject({ nextBeforeSeq: 3, nextAfterSeq: 5 });
    const end = await list({ limit: 10, afterSeq: 5 });
    expect(end.items.map((m) => m.seq)).toEqual([6, 7, 8, 9]);
    expect(end).toMatchObject({ nextBeforeSeq: 6, nextAfterSeq: null });
    expect(await list({ afterSeq: 0, limit: 2 })).toMatchObject({ nextBeforeSeq: null, nextAfterSeq: 2 });

    const around = await list({ limit: 4, aroundSeq: 5 });
    expect(around.items.map((m) => m.seq)).toEqual([4, 5, 6, 7]);
    expect(around).toMatchObject({ nextBeforeSeq: 4, nextAfterSeq: 7 });
    const aroundStart = await list({ limit: 5, aroundSeq: 1 });
    expect(aroundStart.items.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(aroundStart).toMatchObject({ nextBeforeSeq: null, nextAfterSeq: 3 });

    expect(await codeOf(list({ beforeSeq: 5, afterSeq: 2 }))).toBe('BAD_REQUEST');
    expect(await codeOf(list({ aroundSeq: 5, afterSeq: 2 }))).toBe('BAD_REQUEST');
    expect(await codeOf(list({ limit: 101 }))).toBe('BAD_REQUEST');
    expect(await codeOf(list({ beforeSeq: -1 }))).toBe('BAD_REQUEST');

    const got = await alice.client.messages.get.query({ scopeId: r.id, messageId: sent[4]!.id });
    expect(got).toEqual(sent[4]);
    const other = await alice.client.scopes.create.mutate({ kind: 'room', parentId: r.path[0]!, name: 'other' });
    expect(await codeOf(alice.client.messages.get.query({ scopeId: other.id, messageId: sent[4]!.id }))).toBe('NOT_FOUND');
    const mallory = await user('mallory');
    expect(await codeOf(mallory.client.messages.get.query({ scopeId: r.id, messageId: sent[4]!.id }))).toBe('FORBIDDEN');
  });

  it('shows each message as messages.get does, and pages as documented from every seq, with every cursor', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const { room: r } = await room(alice, [bob, carol]);
    const role = '33333333-3333-4333-8333-333333333333';
    const send = (u: typeof alice, body: string, extra: { threadRootId?: string; replyToId?: string } = {}) => u.client.messages.send.mutate({ scopeId: r.id, body, ...extra });
    const m1 = await send(alice, 'first');
    const m2 = await send(bob, `hi <@${carol.userId}> and <@${alice.userId}>, <@&${role}>`);
    const root = await send(carol, 'a thread root');
    const reply = await send(bob, 'in the thread', { threadRootId: root.id });
    const gone = await send(bob, 'in the thread, then deleted', { threadRootId: root.id });
    const m3 = await send(alice, 'a reply', { replyToId: m2.id });
    const deleted = await send(bob, 'deleted soon');
    const m4 = await send(carol, 'to be edited');
    const react = (u: typeof alice, messageId: string, emoji: string) => u.client.reactions.add.mutate({ scopeId: r.id, messageId, emoji });
    await react(carol, m2.id, '🎉');
    await react(bob, m2.id, '👍');
    await react(alice, m2.id, '🎉');
    await react(carol, m2.id, '👍');
    await react(alice, root.id, ':party_parrot:');
    await bob.client.messages.delete.mutate({ scopeId: r.id, messageId: gone.id });
    await bob.client.messages.delete.mutate({ scopeId: r.id, messageId: deleted.id });
    await carol.client.messages.edit.mutate({ scopeId: r.id, messageId: m4.id, body: `edited <@${bob.userId}>` });
    for (let i = 0; i < 4; i++) await send(i % 2 ? alice : bob, `tail ${i}`);
    void reply;
    const { lastSeq } = await alice.client.scopes.get.query({ scopeId: r.id });

    // The main timeline, oldest first, each message as messages.get shows it (a read that does not page).
    const full = await alice.client.messages.list.query({ scopeId: r.id, afterSeq: 0, limit: 100 });
    const timeline = await Promise.all(full.items.map((m) => alice.client.messages.get.query({ scopeId: r.id, messageId: m.id })));
    expect(full.items).toEqual(timeline);
    expect(timeline.map((m) => m.id)).toEqual([m1.id, m2.id, root.id, m3.id, m4.id, ...timeline.slice(5).map((m) => m.id)]);
    expect(timeline).toHaveLength(9);
    const byId = new Map(timeline.map((m) => [m.id, m]));
    expect(byId.get(m2.id)!.reactions).toEqual([
      { emoji: '🎉', count: 2, me: true, userIds: [carol.userId, alice.userId] },
      { emoji: '👍', count: 2, me: false, userIds: [bob.userId, carol.userId] },
    ]);
    expect(byId.get(m2.id)!.mentions).toEqual({ userIds: [alice.userId, carol.userId].sort(), roleIds: [role], everyone: false });
    expect(byId.get(root.id)).toMatchObject({ threadReplyCount: 1, reactions: [{ emoji: ':party_parrot:', count: 1, me: true, userIds: [alice.userId] }] });
    expect(byId.get(m3.id)!.replyToId).toBe(m2.id);
    expect(byId.get(m4.id)).toMatchObject({ body: `edited <@${bob.userId}>`, mentions: { userIds: [bob.userId] } });
    expect(byId.get(m4.id)!.editedAt).toBeInstanceOf(Date);

    const seqs = timeline.map((m) => m.seq);
    const at = (ss: number[]) => ss.map((s) => timeline[seqs.indexOf(s)]!);
    const list = (input: Record<string, number>) => alice.client.messages.list.query({ scopeId: r.id, ...input });
    // Run at once in groups (the SDK batches the calls of one tick; a batch holds at most 50).
    const checks: (() => Promise<void>)[] = [];
    for (const limit of [1, 2, 50]) {
      for (let x = 0; x <= lastSeq + 1; x++) {
        const older = seqs.filter((s) => s < x).reverse();
        const fromX = seqs.filter((s) => s >= x);
        const upToX = seqs.filter((s) => s <= x);
        const newer = seqs.filter((s) => s > x);
        const expectPage = (input: Record<string, number>, want: unknown) => async () => expect(await list({ ...input, limit })).toEqual(want);
        if (x >= 1) {
          const items = at(older.slice(0, limit));
          checks.push(expectPage({ beforeSeq: x }, {
            items,
            nextBeforeSeq: older.length > limit ? items.at(-1)!.seq : null,
            nextAfterSeq: fromX.length > 0 ? (items[0]?.seq ?? x - 1) : null,
          }));
        }
        const after = at(newer.slice(0, limit));
        checks.push(expectPage({ afterSeq: x }, {
          items: after,
          nextBeforeSeq: upToX.length > 0 ? (after[0]?.seq ?? x + 1) : null,
          nextAfterSeq: newer.length > limit ? after.at(-1)!.seq : null,
        }));
        if (x >= 1) {
          const olderN = Math.ceil(limit / 2);
          const around = at([...upToX.slice(-olderN), ...newer.slice(0, limit - olderN)]);
          checks.push(expectPage({ aroundSeq: x }, {
            items: around,
            // An empty page still says how to go on: from x itself.
            nextBeforeSeq: upToX.length > olderN ? (around[0]?.seq ?? x + 1) : null,
            nextAfterSeq: newer.length > limit - olderN ? (around.at(-1)?.seq ?? x) : null,
          }));
        }
      }
    }
    while (checks.length > 0) await Promise.all(checks.splice(0, 40).map((check) => check()));
  });
});

describe('search', () => {
  it('finds only messages the caller may view, newest first, cursor-paged', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { community, room: open } = await room(alice, [bob]);
    const hidden = await alice.client.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'staff', visibility: 'private' });
    const { community: otherCommunity, room: otherRoom } = await room(alice);
    const s1 = await alice.client.messages.send.mutate({ scopeId: open.id, body: 'Pineapple pizza tonight' });
    const s2 = await alice.client.messages.send.mutate({ scopeId: community.id, body: 'who likes pineapple?' });
    await alice.client.messages.send.mutate({ scopeId: hidden.id, body: 'pineapple secret plans' });
    await alice.client.messages.send.mutate({ scopeId: otherRoom.id, body: 'pineapple elsewhere' });
    await alice.client.messages.send.mutate({ scopeId: open.id, body: 'nothing to see' });

    const all = await bob.client.messages.search.query({ communityId: community.id, query: 'PINEAPPLE' });
    expect(all.items.map((m) => m.id)).toEqual([s2.id, s1.id]);
    expect(all.nextCursor).toBeNull();
    const p1 = await bob.client.messages.search.query({ communityId: community.id, query: 'pineapple', limit: 1 });
    expect(p1.items.map((m) => m.id)).toEqual([s2.id]);
    const p2 = await bob.client.messages.search.query({ communityId: community.id, query: 'pineapple', limit: 1, cursor: p1.nextCursor! });
    expect(p2.items.map((m) => m.id)).toEqual([s1.id]);
    expect(p2.nextCursor).toBeNull();
    // Alice sees the private room too, but never another community's messages.
    expect((await alice.client.messages.search.query({ communityId: community.id, query: 'pineapple' })).items).toHaveLength(3);
    expect((await bob.client.messages.search.query({ scopeId: open.id, query: '"pizza tonight"' })).items.map((m) => m.id)).toEqual([s1.id]);
    expect((await bob.client.messages.search.query({ scopeId: open.id, query: 'pineapple -pizza' })).items).toEqual([]);

    // A private scope is invisible to non-members: its refusal reads as NOT_FOUND.
    expect(await codeOf(bob.client.messages.search.query({ scopeId: hidden.id, query: 'pineapple' }))).toBe('NOT_FOUND');
    expect(await codeOf(bob.client.messages.search.query({ communityId: otherCommunity.id, query: 'pineapple' }))).toBe('FORBIDDEN');
    expect(await codeOf(bob.client.messages.search.query({ scopeId: open.id, communityId: community.id, query: 'x' }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.client.messages.search.query({ query: 'x' }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.client.messages.search.query({ scopeId: open.id, query: '  ' }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.client.messages.search.query({ scopeId: open.id, query: '!!! &&' }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.client.messages.search.query({ scopeId: open.id, query: 'x', cursor: 'garbage' }))).toBe('BAD_REQUEST');
  });
});

describe('events on a subscription', () => {
  it('delivers every visible change in order, across instances', async () => {
    const alice = await user('alice');
    const bob = await user('bob', 'b');
    const { room: r } = await room(alice, [bob]);
    const start = (await bob.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    const sub = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: String(start) }, h));
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'hello' });
    await sub.until(1);
    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: 'hello, edited' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m.id });
    await alice.client.pins.remove.mutate({ scopeId: r.id, messageId: m.id });
    await bob.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: m.id });
    const events = await sub.until(7);
    sub.stop();
    expect(events.map((e) => e.type)).toEqual([
      'message.created',
      'message.edited',
      'reaction.added',
      'message.pinned',
      'message.unpinned',
      'reaction.removed',
      'message.deleted',
    ]);
    expect(events.map((e) => e.seq)).toEqual([m.seq, m.seq + 1, m.seq + 2, m.seq + 3, m.seq + 4, m.seq + 5, m.seq + 6]);
    expect(sub.ids).toEqual(events.map((e) => String(e.seq)));
    expect(messageOf(events[1]!).body).toBe('hello, edited');
    expect(events[2]).toMatchObject({ messageId: m.id, emoji: '🎉', userId: bob.userId, actorId: bob.userId });
    expect(events[3]).toMatchObject({ messageId: m.id, actorId: alice.userId });
    expect(events[6]).toMatchObject({ type: 'message.deleted', messageId: m.id });
  });
});
