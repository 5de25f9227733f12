import { describe, expect, it } from 'vitest';
import { usePollServers } from './setup.js';

/* Concurrent votes over HTTP on two instances; the tallies are checked against the rows. */
const { ctx, user, members, room } = usePollServers();

async function rows(pollId: string) {
  const votes = await ctx.pool.query(`select voter, option_id from poll_votes where poll_id = $1`, [pollId]);
  const p = await ctx.pool.query(`select voter_count from polls where id = $1`, [pollId]);
  const o = await ctx.pool.query(`select id, vote_count from poll_options where poll_id = $1 order by position`, [pollId]);
  return { votes: votes.rows as { voter: string; option_id: string }[], voterCount: p.rows[0].voter_count as number, counts: o.rows as { id: string; vote_count: number }[] };
}

describe('concurrent votes', () => {
  for (const allowVoteChange of [false, true]) {
    it(`50 concurrent votes by one member on a single-choice poll give exactly one vote (allowVoteChange ${allowVoteChange})`, async () => {
      const owner = await user('owner');
      const { community, room: r } = await room(owner);
      const [m] = await members(1, [community.id, r.id]);
      const onB = m!; // the same member calls through both instances below
      const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'One', options: [{ text: 'a' }, { text: 'b' }, { text: 'c' }], allowVoteChange });
      const { createClient } = await import('../helpers/server.js');
      const clients = [onB.client, createClient({ url: ctx.b.url, token: onB.token })];
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => clients[i % 2]!.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[i % 3]!.id] })),
      );
      const failed = results.filter((x) => x.status === 'rejected').map((x) => (x as PromiseRejectedResult).reason.data?.code);
      expect(new Set(failed)).toEqual(new Set(failed.length ? ['CONFLICT'] : []));
      if (!allowVoteChange) expect(results.filter((x) => x.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
      const db = await rows(p.id);
      expect(db.votes).toHaveLength(1);
      expect(db.voterCount).toBe(1);
      expect(db.counts.reduce((s, c) => s + c.vote_count, 0)).toBe(1);
      expect(db.counts.find((c) => c.id === db.votes[0]!.option_id)!.vote_count).toBe(1);
    }, 120_000);
  }

  it('200 members voting at once give exact tallies', async () => {
    const owner = await user('owner');
    const { community, room: r } = await room(owner);
    const half = await members(100, [community.id, r.id], 'a');
    const other = await members(100, [community.id, r.id], 'b');
    const everyone = [...half, ...other];
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Many', options: [{ text: 'a' }, { text: 'b' }, { text: 'c' }, { text: 'd' }], maxChoices: 2 });
    const ids = p.options.map((o) => o.id);
    const choice = (i: number) => (i % 5 === 0 ? [ids[i % 4]!, ids[(i + 1) % 4]!] : [ids[i % 4]!]);
    await Promise.all(everyone.map((m, i) => m.client.polls.vote.mutate({ pollId: p.id, optionIds: choice(i) })));
    const expected = ids.map((id) => everyone.filter((_, i) => choice(i).includes(id)).length);
    const db = await rows(p.id);
    expect(db.counts.map((c) => c.vote_count)).toEqual(expected);
    expect(db.voterCount).toBe(200);
    expect(new Set(db.votes.map((v) => v.voter)).size).toBe(200);
    const seen = await owner.client.polls.get.query({ pollId: p.id });
    expect(seen.options.map((o) => o.count)).toEqual(expected);
    expect(seen.voterCount).toBe(200);
  }, 180_000);

  it('maxChoices holds under concurrent votes of one member (rows written straight to the trigger too)', async () => {
    const owner = await user('owner');
    const { community, room: r } = await room(owner);
    const [m] = await members(1, [community.id, r.id]);
    const p = await owner.client.polls.create.mutate({
      scopeId: r.id,
      question: 'Two',
      options: Array.from({ length: 6 }, (_, i) => ({ text: `o${i}` })),
      maxChoices: 2,
      allowVoteChange: false,
    });
    const ids = p.options.map((o) => o.id);
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => m!.client.polls.vote.mutate({ pollId: p.id, optionIds: [ids[i % 6]!, ids[(i + 1) % 6]!] })));
    expect(results.filter((x) => x.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    const db = await rows(p.id);
    expect(db.votes).toHaveLength(2);
    expect(db.voterCount).toBe(1);
    // Raw inserts racing each other, past the service: the trigger still stops at 2.
    const q = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Raw', options: Array.from({ length: 6 }, (_, i) => ({ text: `o${i}` })), maxChoices: 2 });
    const raw = await Promise.allSettled(q.options.map((o) => ctx.pool.query(`insert into poll_votes (poll_id, option_id, voter) values ($1, $2, $3)`, [q.id, o.id, m!.userId])));
    expect(raw.filter((x) => x.status === 'fulfilled')).toHaveLength(2);
    expect((await rows(q.id)).counts.reduce((s, c) => s + c.vote_count, 0)).toBe(2);
  }, 120_000);
});
