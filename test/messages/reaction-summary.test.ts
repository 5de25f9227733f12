import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { codeOf } from '../helpers/errors.js';
import { collect } from '../helpers/subscribe.js';
import { limits } from '../../src/config.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { useServers, type User } from './setup.js';

/**
 * Reaction summaries are bounded (as Discord's `{ count, me }`): every read shows per
 * emoji its count, whether the caller reacted (`me`) and the first
 * `limits.reactionUsersShown` users; `reactions.users` pages through all of them. The
 * summary rows are kept by a trigger on `reactions` (drizzle/0052), whatever writes them.
 */

const { ctx, user, room } = useServers();
const SHOWN = limits.reactionUsersShown;

/** What the summary rows say, against what the reactions table says, for every message. */
async function driftedSummaries(): Promise<unknown[]> {
  const { rows } = await ctx.pool.query(
    `with truth as (
       select message_id, emoji, count(*)::int as count, min(created_at) as first_at,
              (array_agg(user_id order by created_at, user_id))[1:${SHOWN}] as user_ids
         from reactions group by message_id, emoji)
     select coalesce(t.message_id, c.message_id) as message_id, coalesce(t.emoji, c.emoji) as emoji, t.count, c.count as kept
       from truth t full join reaction_counts c on c.message_id = t.message_id and c.emoji = t.emoji
      where t.count is distinct from c.count or t.first_at is distinct from c.first_at or t.user_ids is distinct from c.user_ids`,
  );
  return rows;
}

describe('bounded reaction summaries', () => {
  it('shows the count, me and the first users to every reader; reactions.users pages through all', async () => {
    const owner = await user('owner');
    const reactors: User[] = [];
    for (let i = 0; i < SHOWN + 2; i++) reactors.push(await user(`reactor${i}`));
    const quiet = await user('quiet');
    const { room: r } = await room(owner, [...reactors, quiet]);
    const m = await owner.client.messages.send.mutate({ scopeId: r.id, body: 'popular' });
    for (const u of reactors) await u.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    const first = reactors.slice(0, SHOWN).map((u) => u.userId);

    // The last reactor is past the users shown: `me` still says they reacted.
    const last = reactors.at(-1)!;
    const listed = (await last.client.messages.list.query({ scopeId: r.id })).items.find((x) => x.id === m.id)!;
    expect(listed.reactions).toEqual([{ emoji: '👍', count: SHOWN + 2, me: true, userIds: first }]);
    expect(await last.client.messages.get.query({ scopeId: r.id, messageId: m.id })).toEqual(listed);
    expect((await reactors[0]!.client.messages.get.query({ scopeId: r.id, messageId: m.id })).reactions[0]!.me).toBe(true);
    // A reaction of `quiet` elsewhere (another message, another emoji) is not one on this message.
    const other = await owner.client.messages.send.mutate({ scopeId: r.id, body: 'elsewhere' });
    await quiet.client.reactions.add.mutate({ scopeId: r.id, messageId: other.id, emoji: '🎉' });
    const seen = await quiet.client.messages.get.query({ scopeId: r.id, messageId: m.id });
    expect(seen.reactions).toEqual([{ emoji: '👍', count: SHOWN + 2, me: false, userIds: first }]);
    expect((await quiet.client.messages.list.query({ scopeId: r.id })).items.find((x) => x.id === m.id)).toEqual(seen);
    expect((await quiet.client.messages.search.query({ scopeId: r.id, query: 'popular' })).items[0]).toEqual(seen);
    await owner.client.pins.add.mutate({ scopeId: r.id, messageId: m.id });
    expect((await quiet.client.pins.list.query({ scopeId: r.id }))[0]!.message).toEqual(seen);

    // One of the users shown leaves: the next one in order takes their place.
    const gone = await reactors[1]!.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    expect(gone.reactions).toEqual([{ emoji: '👍', count: SHOWN + 1, me: false, userIds: reactors.filter((_, i) => i !== 1).slice(0, SHOWN).map((u) => u.userId) }]);

    // Every reactor, in user-id order, a page at a time.
    const all: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await quiet.client.reactions.users.query({ scopeId: r.id, messageId: m.id, emoji: '👍', limit: 2, cursor });
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const it of page.items) expect(it.reactedAt).toBeInstanceOf(Date);
      all.push(...page.items.map((x) => x.userId));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(all).toEqual(reactors.filter((_, i) => i !== 1).map((u) => u.userId).sort());
    expect((await quiet.client.reactions.users.query({ scopeId: r.id, messageId: m.id, emoji: '🎉' })).items).toEqual([]);
    expect(await driftedSummaries()).toEqual([]);
  });

  it('refuses reactions.users on what the caller may not see, with the usual codes', async () => {
    const owner = await user('owner');
    const outsider = await user('outsider');
    const { room: r } = await room(owner);
    const m = await owner.client.messages.send.mutate({ scopeId: r.id, body: 'private' });
    await owner.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '👍' });
    const ref = { scopeId: r.id, messageId: m.id, emoji: '👍' };
    expect(await codeOf(outsider.client.reactions.users.query(ref))).toBe('FORBIDDEN');
    expect(await codeOf(owner.client.reactions.users.query({ ...ref, messageId: randomUUID() }))).toBe('NOT_FOUND');
    expect(await codeOf(owner.client.reactions.users.query({ ...ref, emoji: 'hello' }))).toBe('BAD_REQUEST');
    expect(await codeOf(owner.client.reactions.users.query({ ...ref, limit: 0 }))).toBe('BAD_REQUEST');
    expect(await codeOf(owner.client.reactions.users.query({ ...ref, limit: limits.pageMax + 1 }))).toBe('BAD_REQUEST');
    expect(await codeOf(owner.client.reactions.users.query({ ...ref, cursor: 'nope' }))).toBe('BAD_REQUEST');
    await owner.client.messages.delete.mutate({ scopeId: r.id, messageId: m.id });
    expect((await owner.client.reactions.users.query(ref)).items).toEqual([]);
  });

  it('reaction events carry the count after the change, so a replay over a fresher read converges', async () => {
    const alice = await user('alice');
    const bob = await user('bob', 'b');
    const { room: r } = await room(alice, [bob]);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'count me' });
    const sub = collect<ScopeStreamEvent>((h) => bob.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: String(m.seq) }, h));
    await alice.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    await bob.client.reactions.add.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    await alice.client.reactions.remove.mutate({ scopeId: r.id, messageId: m.id, emoji: '🎉' });
    const events = await sub.until(3);
    sub.stop();
    expect(events.map((e) => [e.type, 'count' in e ? e.count : undefined])).toEqual([
      ['reaction.added', 1],
      ['reaction.added', 2],
      ['reaction.removed', 1],
    ]);
    // Replayed from the log, the same counts.
    const replay = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: r.id, lastEventId: String(m.seq) }, h));
    expect((await replay.until(3)).map((e) => ('count' in e ? e.count : undefined))).toEqual([1, 2, 1]);
    replay.stop();
  });

  it('the trigger keeps the summaries exact for every writer: raw inserts, bulk deletes, a deleted user', async () => {
    const alice = await user('alice');
    const { room: r } = await room(alice);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'raw' });
    const users: string[] = [];
    for (let i = 0; i < SHOWN + 3; i++) users.push((await user(`raw${i}`)).userId);
    // Inserted out of time order, several in one statement.
    await ctx.pool.query(
      `insert into reactions (message_id, emoji, user_id, created_at)
       select $1, e, u, now() - (i || ' seconds')::interval
         from unnest($2::uuid[]) with ordinality as t(u, i), unnest(array['👍', '🎉']) e`,
      [m.id, users],
    );
    expect(await driftedSummaries()).toEqual([]);
    const got = await alice.client.messages.get.query({ scopeId: r.id, messageId: m.id });
    expect(got.reactions.map((x) => [x.emoji, x.count, x.userIds.length, x.me])).toEqual([
      ['🎉', SHOWN + 3, SHOWN, false],
      ['👍', SHOWN + 3, SHOWN, false],
    ]);
    // The earliest reactor of each emoji removed in one statement; then a user deleted outright.
    await ctx.pool.query(`delete from reactions where message_id = $1 and user_id = $2`, [m.id, users.at(-1)]);
    expect(await driftedSummaries()).toEqual([]);
    await ctx.pool.query(`delete from users where id = $1`, [users[0]]);
    expect(await driftedSummaries()).toEqual([]);
    // Every reaction of one emoji gone: its summary row goes too.
    await ctx.pool.query(`delete from reactions where message_id = $1 and emoji = '🎉'`, [m.id]);
    expect(await driftedSummaries()).toEqual([]);
    expect((await alice.client.messages.get.query({ scopeId: r.id, messageId: m.id })).reactions.map((x) => x.emoji)).toEqual(['👍']);
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: m.id });
    const { rows } = await ctx.pool.query('select count(*)::int as n from reaction_counts where message_id = $1', [m.id]);
    expect(rows[0].n).toBe(0);
  });
});
