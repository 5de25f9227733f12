import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { useServers, type User } from './setup.js';

const { ctx, user, room } = useServers();

const MEMBERS = 5_000;

/** Adds `n` members written with raw SQL (users and memberships in two statements) to the community and its room. */
async function addRawMembers(communityId: string, roomId: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await ctx.pool.query(
    `insert into users (id, email, display_name, password_hash) select id, id::text || '@example.com', 'm', 'x' from unnest($1::uuid[]) id`,
    [ids],
  );
  for (const scope of [communityId, roomId]) {
    await ctx.pool.query(`insert into memberships (scope_id, user_id) select $1, id from unnest($2::uuid[]) id`, [scope, ids]);
  }
  return ids;
}

/** The tuple id of every read mark of a scope: an UPDATE gives a row a new one. */
async function markTuples(scopeId: string): Promise<Map<string, string>> {
  const { rows } = await ctx.pool.query(`select user_id, ctid::text as t from read_marks where scope_id = $1`, [scopeId]);
  return new Map(rows.map((r) => [r.user_id as string, r.t as string]));
}

async function changedMarks(scopeId: string, send: () => Promise<unknown>): Promise<string[]> {
  const before = await markTuples(scopeId);
  await send();
  const after = await markTuples(scopeId);
  return [...after].filter(([u, t]) => before.get(u) !== t).map(([u]) => u);
}

/** What the view says, against a count of the messages themselves, for every member of a scope. */
async function mismatches(scopeId: string): Promise<unknown[]> {
  const { rows } = await ctx.pool.query(
    `select r.user_id, r.unread_count, r.mention_count, t.unread, t.mentions
       from read_states r,
       lateral (select count(*)::int as unread,
                       count(*) filter (where m.mention_everyone or exists (
                         select 1 from message_mentions mm where mm.message_id = m.id and mm.kind = 'user' and mm.target_id = r.user_id))::int as mentions
                  from messages m
                 where m.scope_id = r.scope_id and m.seq > r.last_read_seq and m.deleted_at is null and m.author_id <> r.user_id) t
      where r.scope_id = $1 and (r.unread_count <> t.unread or r.mention_count <> t.mentions)`,
    [scopeId],
  );
  return rows;
}

const stateOf = async (u: User, scopeId: string) => {
  const [s] = await u.client.readState.get.query({ scopeIds: [scopeId] });
  return s && { unread: s.unreadCount, mentions: s.mentionCount };
};

describe(`read state in a room of ${MEMBERS} members`, () => {
  it('a send rewrites only the marks of its author and the users it mentions, and every count stays exact', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { community, room: r } = await room(alice, [bob]);
    const raw = await addRawMembers(community.id, r.id, MEMBERS - 2);
    expect((await ctx.pool.query(`select count(*)::int as n from read_marks where scope_id = $1`, [r.id])).rows[0].n).toBe(MEMBERS);

    // A plain message: one mark changes (the author's), not 5,000.
    const plain = () => alice.client.messages.send.mutate({ scopeId: r.id, body: 'hello everybody' });
    expect(await changedMarks(r.id, plain)).toEqual([alice.userId]);
    // A direct mention: the author's and the mentioned user's.
    let mentioned!: { id: string; seq: number };
    expect((await changedMarks(r.id, async () => (mentioned = await alice.client.messages.send.mutate({ scopeId: r.id, body: `hi <@${bob.userId}>` })))).sort()).toEqual(
      [alice.userId, bob.userId].sort(),
    );
    // @everyone writes no mark but the author's: it is counted on read.
    const everyone = await (async () => {
      let m!: { id: string; seq: number };
      expect(await changedMarks(r.id, async () => (m = await alice.client.messages.send.mutate({ scopeId: r.id, body: '@everyone meeting' })))).toEqual([alice.userId]);
      return m;
    })();

    expect(await stateOf(bob, r.id)).toEqual({ unread: 3, mentions: 2 });
    const { rows: spread } = await ctx.pool.query(
      `select unread_count as u, mention_count as m, count(*)::int as n from read_states where scope_id = $1 group by 1, 2 order by 1, 2`,
      [r.id],
    );
    // alice read everything; bob has two mentions; the 4,998 others one (@everyone).
    expect(spread).toEqual([
      { u: 0, m: 0, n: 1 },
      { u: 3, m: 1, n: MEMBERS - 2 },
      { u: 3, m: 2, n: 1 },
    ]);

    // Deletions count for every member again, without touching their marks.
    expect(await changedMarks(r.id, () => alice.client.messages.delete.mutate({ scopeId: r.id, messageId: everyone.id }))).toEqual([]);
    expect(await stateOf(bob, r.id)).toEqual({ unread: 2, mentions: 1 });
    expect(await changedMarks(r.id, () => alice.client.messages.delete.mutate({ scopeId: r.id, messageId: mentioned.id }))).toEqual([bob.userId]);
    expect(await stateOf(bob, r.id)).toEqual({ unread: 1, mentions: 0 });
    expect(await mismatches(r.id)).toEqual([]);

    // A raw member marks part of the way: the rest is counted for that member only.
    const carol = raw[0]!;
    const last = await alice.client.messages.send.mutate({ scopeId: r.id, body: `<@${carol}> and @everyone` });
    await ctx.pool.query(`update read_states set last_read_seq = $3 where scope_id = $1 and user_id = $2`, [r.id, carol, mentioned.seq]);
    const { rows: carolState } = await ctx.pool.query(`select unread_count as u, mention_count as m from read_states where scope_id = $1 and user_id = $2`, [r.id, carol]);
    expect(carolState).toEqual([{ u: 1, m: 1 }]); // only `last` (the deleted ones do not count)
    expect(await mismatches(r.id)).toEqual([]);
    expect(await bob.client.readState.mark.mutate({ scopeId: r.id, seq: last.seq })).toMatchObject({ unreadCount: 0, mentionCount: 0 });
  }, 180_000);

  it('concurrent sends, mentions, edits, deletes and marks leave every count exact', async () => {
    const owner = await user('owner');
    const senders = [await user('s1'), await user('s2'), await user('s3')];
    const { community, room: r } = await room(owner, senders);
    const raw = await addRawMembers(community.id, r.id, MEMBERS - 4);
    await owner.client.messages.send.mutate({ scopeId: r.id, body: '@everyone start' });
    const sent: { id: string; seq: number }[] = [];
    const work = senders.map(async (s, i) => {
      for (let k = 0; k < 15; k++) {
        const target = raw[(i * 15 + k) % raw.length]!;
        const m = await s.client.messages.send.mutate({ scopeId: r.id, body: k % 3 === 0 ? `ping <@${target}>` : `msg ${i}.${k}` });
        sent.push(m);
        if (k % 4 === 1) await s.client.messages.edit.mutate({ scopeId: r.id, messageId: m.id, body: `edited <@${raw[k]!}>` });
        if (k % 5 === 4) await s.client.messages.delete.mutate({ scopeId: r.id, messageId: m.id });
        if (k % 6 === 2) await ctx.pool.query(`update read_states set last_read_seq = $3 where scope_id = $1 and user_id = $2`, [r.id, raw[k]!, m.seq]);
      }
    });
    const marks = (async () => {
      for (let k = 0; k < 20; k++) {
        const seq = sent.at(-1)?.seq ?? 0;
        await ctx.pool.query(`update read_states set last_read_seq = $2 where scope_id = $1 and user_id = any($3::uuid[])`, [r.id, seq, raw.slice(k * 10, k * 10 + 10)]);
      }
    })();
    await Promise.all([...work, marks]);
    expect(await mismatches(r.id)).toEqual([]);
  }, 180_000);
});
