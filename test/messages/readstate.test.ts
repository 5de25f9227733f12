import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { codeOf } from '../helpers/errors.js';
import { useServers, type User } from './setup.js';

const { ctx, user, room } = useServers();

async function stateOf(u: User, scopeId: string) {
  const [s] = await u.client.readState.get.query({ scopeIds: [scopeId] });
  return s ? { lastReadSeq: s.lastReadSeq, unread: s.unreadCount, mentions: s.mentionCount } : null;
}

describe('read state through the API', () => {
  it('counts unread messages and mentions exactly, and never moves back', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { community, room: r } = await room(alice);
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'before bob joined' });
    await bob.client.members.join.mutate({ scopeId: community.id });
    await bob.client.members.join.mutate({ scopeId: r.id });
    // Joining does not make the history unread.
    const joined = await stateOf(bob, r.id);
    expect(joined).toMatchObject({ unread: 0, mentions: 0 });
    expect(joined!.lastReadSeq).toBeGreaterThanOrEqual(1);

    const m1 = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'one' });
    const m2 = await alice.client.messages.send.mutate({ scopeId: r.id, body: `two for <@${bob.userId}>` });
    const m3 = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'three' });
    expect(await stateOf(bob, r.id)).toEqual({ lastReadSeq: joined!.lastReadSeq, unread: 3, mentions: 1 });
    // The author's own messages are never unread for her; sending marks read.
    expect(await stateOf(alice, r.id)).toEqual({ lastReadSeq: m3.seq, unread: 0, mentions: 0 });

    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: m3.id });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 2, mentions: 1 });
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: m2.id });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 1, mentions: 0 });

    const m4 = await alice.client.messages.send.mutate({ scopeId: r.id, body: `@everyone and <@${bob.userId}>` });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 2, mentions: 1 }); // one message, one mention
    // Events that are not messages are not unread.
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m4.id, emoji: '👀' });
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m4.id });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 2, mentions: 1 });

    // Marking up to m1 leaves m4 (m2 and m3 are deleted).
    expect(await bob.client.readState.mark.mutate({ scopeId: r.id, seq: m1.seq })).toMatchObject({
      scopeId: r.id,
      lastReadSeq: m1.seq,
      unreadCount: 1,
      mentionCount: 1,
    });
    // Monotonic: a lower seq changes nothing.
    expect(await bob.client.readState.mark.mutate({ scopeId: r.id, seq: 0 })).toMatchObject({ lastReadSeq: m1.seq, unreadCount: 1 });
    const last = (await bob.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    expect(await bob.client.readState.mark.mutate({ scopeId: r.id, seq: last })).toMatchObject({ lastReadSeq: last, unreadCount: 0, mentionCount: 0 });

    // Edits move mentions in and out.
    const m5 = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'plain' });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 1, mentions: 0 });
    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m5.id, body: `now <@${bob.userId}>` });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 1, mentions: 1 });
    await alice.client.messages.edit.mutate({ scopeId: r.id, messageId: m5.id, body: 'plain again' });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 1, mentions: 0 });
    // Sending marks the scope read for bob.
    await bob.client.messages.send.mutate({ scopeId: r.id, body: 'caught up' });
    expect(await stateOf(bob, r.id)).toMatchObject({ unread: 0, mentions: 0 });
    expect(await stateOf(alice, r.id)).toMatchObject({ unread: 1, mentions: 0 });

    // Bad input changes nothing.
    const now = (await bob.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    expect(await codeOf(bob.client.readState.mark.mutate({ scopeId: r.id, seq: now + 1 }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.client.readState.mark.mutate({ scopeId: r.id, seq: -1 }))).toBe('BAD_REQUEST');
    expect(await codeOf(bob.client.readState.get.query({ scopeIds: [] }))).toBe('BAD_REQUEST');
    const mallory = await user('mallory');
    expect(await codeOf(mallory.client.readState.mark.mutate({ scopeId: r.id, seq: 1 }))).toBe('FORBIDDEN');
    // Scopes the caller is not in are left out.
    expect(await mallory.client.readState.get.query({ scopeIds: [r.id, randomUUID()] })).toEqual([]);
    const mine = await bob.client.readState.list.query();
    expect(mine.map((s) => s.scopeId).sort()).toEqual([community.id, r.id].sort());
    // And the service method other domains use.
    const viaService = await ctx.a.services.readStates.unreadFor(alice.userId, [r.id, community.id]);
    expect(viaService.find((s) => s.scopeId === r.id)).toMatchObject({ unreadCount: 1, mentionCount: 0 });
  });
});

describe('read state triggers (raw SQL)', () => {
  /** A user, a community and two members written with raw SQL; returns their ids. */
  async function seed() {
    const q = (text: string, values: unknown[] = []) => ctx.pool.query(text, values);
    const [author, reader] = [randomUUID(), randomUUID()];
    for (const id of [author, reader]) {
      await q(`insert into users (id, email, display_name, password_hash) values ($1, $2, 'x', 'x')`, [id, `${id}@example.com`]);
    }
    const scope = (await q(`insert into scopes (kind, name) values ('community', 'raw') returning id`)).rows[0].id as string;
    await q(`insert into memberships (scope_id, user_id, is_owner) values ($1, $2, true), ($1, $3, false)`, [scope, author, reader]);
    let nextSeq = 0;
    const send = async (opts: { everyone?: boolean; mention?: string; thread?: string } = {}) => {
      const seq = (await q(`insert into scope_events (scope_id, seq, type) values ($1, 0, 'message.created') returning seq`, [scope])).rows[0].seq;
      nextSeq = Number(seq);
      const id = randomUUID();
      await q(
        `insert into messages (id, scope_id, seq, author_id, body, mention_everyone, thread_root_id) values ($1, $2, $3, $4, 'b', $5, $6)`,
        [id, scope, seq, author, opts.everyone ?? false, opts.thread ?? null],
      );
      if (opts.mention) await q(`insert into message_mentions (message_id, scope_id, kind, target_id) values ($1, $2, 'user', $3)`, [id, scope, opts.mention]);
      return { id, seq: Number(seq) };
    };
    const state = async (userId: string) =>
      (await q(`select last_read_seq::int as "last", unread_count as unread, mention_count as mentions from read_states where scope_id = $1 and user_id = $2`, [scope, userId])).rows[0];
    return { q, author, reader, scope, send, state, lastSeq: () => nextSeq };
  }

  it('creates and removes the row with the membership', async () => {
    const { q, reader, scope, state } = await seed();
    expect(await state(reader)).toEqual({ last: 0, unread: 0, mentions: 0 });
    await q(`delete from memberships where scope_id = $1 and user_id = $2`, [scope, reader]);
    expect(await state(reader)).toBeUndefined();
  });

  it('counts inserts, mentions, @everyone and soft deletes; recounts on a partial mark', async () => {
    const { q, author, reader, scope, send, state } = await seed();
    const a = await send();
    const b = await send({ mention: reader });
    const c = await send({ everyone: true, mention: reader }); // counted once
    const d = await send({ everyone: true });
    expect(await state(reader)).toEqual({ last: 0, unread: 4, mentions: 3 });
    expect(await state(author)).toEqual({ last: d.seq, unread: 0, mentions: 0 });

    await q(`update messages set deleted_at = now() where id = $1`, [c.id]);
    expect(await state(reader)).toEqual({ last: 0, unread: 3, mentions: 2 });
    await q(`update messages set mention_everyone = false where id = $1`, [d.id]);
    expect(await state(reader)).toEqual({ last: 0, unread: 3, mentions: 1 });
    await q(`delete from message_mentions where message_id = $1`, [b.id]);
    expect(await state(reader)).toEqual({ last: 0, unread: 3, mentions: 0 });
    await q(`insert into message_mentions (message_id, scope_id, kind, target_id) values ($1, $2, 'user', $3)`, [b.id, scope, reader]);
    // Undelete restores what c counts for.
    await q(`update messages set deleted_at = null where id = $1`, [c.id]);
    expect(await state(reader)).toEqual({ last: 0, unread: 4, mentions: 2 });

    // A partial mark recounts what is left: c (mention, everyone) and d.
    await q(`update read_states set last_read_seq = $3 where scope_id = $1 and user_id = $2`, [scope, reader, b.seq]);
    expect(await state(reader)).toEqual({ last: b.seq, unread: 2, mentions: 1 });
    // Never back.
    await q(`update read_states set last_read_seq = $3 where scope_id = $1 and user_id = $2`, [scope, reader, a.seq]);
    expect((await state(reader)).last).toBe(b.seq);
    // Messages at or before the mark do not count when deleted or mention later.
    await q(`update messages set deleted_at = now() where id = $1`, [a.id]);
    await q(`insert into message_mentions (message_id, scope_id, kind, target_id) values ($1, $2, 'user', $3) on conflict do nothing`, [a.id, scope, reader]);
    expect(await state(reader)).toEqual({ last: b.seq, unread: 2, mentions: 1 });
    await q(`update read_states set last_read_seq = $3 where scope_id = $1 and user_id = $2`, [scope, reader, d.seq]);
    expect(await state(reader)).toEqual({ last: d.seq, unread: 0, mentions: 0 });
  });

  it('keeps the thread reply count of a root', async () => {
    const { q, send } = await seed();
    const root = await send();
    const r1 = await send({ thread: root.id });
    await send({ thread: root.id });
    const count = async () => (await q(`select thread_reply_count as n from messages where id = $1`, [root.id])).rows[0].n;
    expect(await count()).toBe(2);
    await q(`update messages set deleted_at = now() where id = $1`, [r1.id]);
    expect(await count()).toBe(1);
  });
});
