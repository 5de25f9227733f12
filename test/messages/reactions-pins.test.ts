import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { codeOf } from '../helpers/errors.js';
import { limits } from '../../src/config.js';
import { useServers } from './setup.js';

const { ctx, user, room } = useServers();

/** 20 distinct emoji, all RGI single code points. */
const EMOJI = ['😀', '😁', '😂', '🤣', '😃', '😄', '😅', '😆', '😉', '😊', '😋', '😎', '😍', '😘', '🥰', '😗', '😙', '🥲', '😚', '🙂'];

describe('reactions', () => {
  it('keeps a set of users per emoji, idempotently', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'react to me' });
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: ':party_parrot:' });
    const again = await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    expect(again.reactions).toEqual([
      { emoji: '👍', count: 2, me: true, userIds: [alice.userId, bob.userId] },
      { emoji: ':party_parrot:', count: 1, me: true, userIds: [bob.userId] },
    ]);
    const seq = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    expect(seq).toBe(m.seq + 3); // the repeated add emitted nothing
    const removed = await alice.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    expect(removed.reactions[0]).toEqual({ emoji: '👍', count: 1, me: false, userIds: [bob.userId] });
    await alice.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(seq + 1);
    // Family emoji (a ZWJ sequence) and skin tones are one emoji each.
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👨‍👩‍👧' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍🏽' });
    const listed = (await alice.client.messages.list.query({ scopeId: r.id })).items[0]!;
    expect(listed.reactions.map((x) => x.emoji)).toEqual(['👍', ':party_parrot:', '👨‍👩‍👧', '👍🏽']);
  });

  it('takes an emoji sent without its emoji presentation selector (❤ for ❤️) as that emoji', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'love' });
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u2764' });
    const both = await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u2764\uFE0F' });
    expect(both.reactions).toEqual([{ emoji: '\u2764\uFE0F', count: 2, me: true, userIds: [alice.userId, bob.userId] }]);
    expect((await bob.client.reactions.users.query({ scopeId: r.id, messageId: m.id, emoji: '\u2764' })).items).toHaveLength(2);
    const left = await alice.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u2764' });
    expect(left.reactions).toEqual([{ emoji: '\u2764\uFE0F', count: 1, me: false, userIds: [bob.userId] }]);
    // Inside a sequence too: a keycap and a ZWJ sequence sent without their VS16.
    const seq = await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '1\u20E3' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u2764\u200D\u{1F525}' });
    const again = await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u2764\uFE0F\u200D\u{1F525}' });
    expect(seq.reactions.map((x) => x.emoji)).toContain('1\uFE0F\u20E3');
    expect(again.reactions.find((x) => x.emoji === '\u2764\uFE0F\u200D\u{1F525}')).toMatchObject({ count: 2 });
    // A text-default character with a skin tone takes no VS16 before the tone (⛹🏻‍♀ for ⛹🏻‍♀️).
    const toned = await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u26F9\u{1F3FB}\u200D\u2640' });
    expect(toned.reactions.map((x) => x.emoji)).toContain('\u26F9\u{1F3FB}\u200D\u2640\uFE0F');
    // A character that is no emoji in either form is still refused.
    expect(await codeOf(bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '\u2603x' }))).toBe('BAD_REQUEST');
  });

  it('refuses bad emoji, a 21st distinct emoji, and deleted messages, changing nothing', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const mallory = await user('mallory');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'popular' });
    for (const e of EMOJI.slice(0, limits.reactionsPerMessageMax)) await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: e });
    const seq = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    try {
      await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '🙃' });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/at most 20 different reactions/);
    }
    // An emoji already there is still fine.
    const ok = await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: EMOJI[0]! });
    expect(ok.reactions).toHaveLength(20);
    expect(ok.reactions[0]).toMatchObject({ count: 2 });
    for (const bad of ['', 'ab', 'hello', '👍👍', ':x:', ':not allowed:', 'x'.repeat(65)]) {
      expect(await codeOf(bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: bad })), bad).toBe('BAD_REQUEST');
    }
    expect(await codeOf(mallory.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' }))).toBe('FORBIDDEN');
    expect(await codeOf(bob.client.reactions.add.mutate({ scopeId: r.id, messageId: randomUUID(), emoji: '👍' }))).toBe('NOT_FOUND');
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(seq + 1);
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: m.id });
    expect(await codeOf(bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' }))).toBe('BAD_REQUEST');
  });
});

describe('pins', () => {
  it('needs PinMessages, lists newest pin first, and is idempotent', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const m1 = await bob.client.messages.send.mutate({ scopeId: r.id, body: 'first' });
    const m2 = await bob.client.messages.send.mutate({ scopeId: r.id, body: 'second' });
    // Bob is a plain member: the everyone role does not carry PinMessages.
    expect(await codeOf(bob.client.pins.add.mutate({ scopeId: r.id, messageId: m1.id }))).toBe('FORBIDDEN');
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m1.id });
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m2.id });
    const seq = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m2.id });
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(seq);
    const pins = await bob.client.pins.list.query({ scopeId: r.id });
    expect(pins.map((p) => p.message.body)).toEqual(['second', 'first']);
    expect(pins[0]).toMatchObject({ pinnedBy: alice.userId, pinnedAt: expect.any(Date) });
    expect(await codeOf(bob.client.pins.remove.mutate({ scopeId: r.id, messageId: m1.id }))).toBe('FORBIDDEN');
    await alice.client.pins.remove.mutate({ scopeId: r.id, messageId: m1.id });
    await alice.client.pins.remove.mutate({ scopeId: r.id, messageId: m1.id });
    expect((await bob.client.pins.list.query({ scopeId: r.id })).map((p) => p.message.id)).toEqual([m2.id]);
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(seq + 1);
    const mallory = await user('mallory');
    expect(await codeOf(mallory.client.pins.list.query({ scopeId: r.id }))).toBe('FORBIDDEN');
  });

  it('holds at most 50 pins per scope', async () => {
    const alice = await user('alice');
    const { room: r } = await room(alice);
    // Fill the scope up to the limit with raw SQL (sending 50 messages would hit the send rate).
    await ctx.pool.query(
      `with m as (
         insert into messages (id, scope_id, seq, author_id, body)
         select gen_random_uuid(), $1, 100000 + g, $2, 'filler ' || g from generate_series(1, $3::int) g
         returning id)
       insert into pins (scope_id, message_id, pinned_by) select $1, id, $2 from m`,
      [r.id, alice.userId, limits.pinsPerScopeMax],
    );
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'one too many' });
    const seq = (await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq;
    try {
      await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m.id });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toMatch(/at most 50 pins; unpin one first/);
    }
    expect((await alice.client.scopes.get.query({ scopeId: r.id })).lastSeq).toBe(seq);
    expect(await alice.client.pins.list.query({ scopeId: r.id })).toHaveLength(50);
    const victim = (await alice.client.pins.list.query({ scopeId: r.id }))[0]!;
    await alice.client.pins.remove.mutate({ scopeId: r.id, messageId: victim.message.id });
    await alice.client.pins.add.mutate({ scopeId: r.id, messageId: m.id });
    expect((await alice.client.pins.list.query({ scopeId: r.id }))[0]!.message.id).toBe(m.id);
  });
});
