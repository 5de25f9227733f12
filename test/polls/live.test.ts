import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { collect, type Collected } from '../helpers/subscribe.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { usePollServers, type User } from './setup.js';
import { waitFor } from './wait.js';

/*
 * Live results over the real WebSocket stream (messages.onEvent through the SDK) on two
 * instances: the visibility rule per receiver, replay, coalescing.
 */
const { ctx, user, members, room } = usePollServers();

type PollUpdated = Extract<ScopeStreamEvent, { type: 'poll.updated' }>;
const updatesOf = (sub: Collected<ScopeStreamEvent>, pollId: string) =>
  sub.items.filter((e): e is PollUpdated => e.type === 'poll.updated' && e.pollId === pollId);

/** Waits for a poll.updated of `pollId` with `voterCount`. */
const updateWith = (sub: Collected<ScopeStreamEvent>, pollId: string, voterCount: number) =>
  waitFor(sub, (e) => e.type === 'poll.updated' && e.pollId === pollId && e.voterCount === voterCount) as Promise<PollUpdated>;

const subscribe = (u: User, scopeId: string, lastEventId?: string) =>
  collect<ScopeStreamEvent>((h) => u.client.messages.onEvent.subscribe({ scopeId, ...(lastEventId ? { lastEventId } : {}) }, h));

async function dbCounts(pollId: string) {
  const { rows } = await ctx.pool.query(`select id as "optionId", vote_count as count from poll_options where poll_id = $1 order by position`, [pollId]);
  return rows as { optionId: string; count: number }[];
}

describe('visibility per mode, over the stream and through get', () => {
  it('always, afterVote, afterClose', async () => {
    const owner = await user('owner');
    const voter = await user('voter');
    const onlooker = await user('onlooker', 'b');
    const { room: r } = await room(owner, [voter, onlooker]);
    const subV = subscribe(voter, r.id);
    const subN = subscribe(onlooker, r.id);
    const subO = subscribe(owner, r.id);
    await Promise.all([subV.started, subN.started, subO.started]);
    const make = (resultsVisibility: 'always' | 'afterVote' | 'afterClose') =>
      owner.client.polls.create.mutate({ scopeId: r.id, question: resultsVisibility, options: [{ text: 'a' }, { text: 'b' }], resultsVisibility });
    const always = await make('always');
    const afterVote = await make('afterVote');
    const afterClose = await make('afterClose');
    for (const p of [always, afterVote, afterClose]) await voter.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[1]!.id] });

    const expected = (p: typeof always) => [
      { optionId: p.options[0]!.id, count: 0 },
      { optionId: p.options[1]!.id, count: 1 },
    ];
    // always: everyone sees the counts.
    for (const sub of [subV, subN, subO]) expect((await updateWith(sub, always.id, 1)).counts).toEqual(expected(always));
    // afterVote: the voter does, the others (the author included, who did not vote) do not.
    expect((await updateWith(subV, afterVote.id, 1)).counts).toEqual(expected(afterVote));
    expect((await updateWith(subN, afterVote.id, 1)).counts).toBeNull();
    expect((await updateWith(subO, afterVote.id, 1)).counts).toBeNull();
    // afterClose: nobody before the close.
    for (const sub of [subV, subN, subO]) expect((await updateWith(sub, afterClose.id, 1)).counts).toBeNull();

    // get applies the same rule.
    const seen = async (u: User, id: string) => (await u.client.polls.get.query({ pollId: id })).options.map((o) => o.count);
    expect(await seen(onlooker, always.id)).toEqual([0, 1]);
    expect(await seen(voter, afterVote.id)).toEqual([0, 1]);
    expect(await seen(onlooker, afterVote.id)).toEqual([null, null]);
    expect(await seen(voter, afterClose.id)).toEqual([null, null]);
    expect(await seen(owner, afterClose.id)).toEqual([null, null]);

    // A replay from the start is shaped the same way.
    const replayN = subscribe(onlooker, r.id, '0');
    const replayed = (await updateWith(replayN, afterVote.id, 1)).counts;
    expect(replayed).toBeNull();
    replayN.stop();

    // Once closed, everyone sees the final tally.
    await owner.client.polls.close.mutate({ pollId: afterClose.id });
    for (const sub of [subV, subN, subO]) {
      const closed = await waitFor(sub, (e) => e.type === 'poll.closed' && e.pollId === afterClose.id);
      expect(closed).toMatchObject({ counts: expected(afterClose), voterCount: 1 });
    }
    expect(await seen(onlooker, afterClose.id)).toEqual([0, 1]);
    // No afterClose count ever reached the log before the close.
    const logged = await ctx.pool.query(`select payload from scope_events where type = 'poll.updated' and payload->>'pollId' = $1`, [afterClose.id]);
    for (const row of logged.rows) expect(row.payload.counts).toBeNull();
    for (const s of [subV, subN, subO]) s.stop();
  });
});

describe('coalescing', () => {
  it('a burst of 500 votes gives a handful of poll.updated per subscriber, the last equal to the database tally', async () => {
    const owner = await user('owner');
    const { community, room: r } = await room(owner);
    const voters = await members(250, [community.id, r.id]);
    const watchers = [await user('w1'), await user('w2', 'b')];
    for (const w of watchers) {
      await w.client.members.join.mutate({ scopeId: community.id });
      await w.client.members.join.mutate({ scopeId: r.id });
    }
    const subs = watchers.map((w) => subscribe(w, r.id));
    await Promise.all(subs.map((s) => s.started));
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Burst', options: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] });
    const ids = p.options.map((o) => o.id);
    const started = Date.now();
    // 500 votes: each of 250 members votes, then changes the vote once.
    await Promise.all(
      voters.map(async (v, i) => {
        await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [ids[i % 3]!] });
        await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [ids[(i + 1) % 3]!] });
      }),
    );
    const elapsed = Date.now() - started;
    const final = await dbCounts(p.id);
    for (const sub of subs) {
      const last = await waitFor(sub, (e) => e.type === 'poll.updated' && e.pollId === p.id && isDeepStrictEqual(e.counts, final));
      expect((last as PollUpdated).voterCount).toBe(250);
      const updates = updatesOf(sub, p.id);
      // One per 250 ms window at most, plus the last one after the burst.
      expect(updates.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 2);
      expect(updates.length).toBeLessThan(500 / 5);
      const seqs = updates.map((u) => u.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    }
    // Nothing more follows: the event log holds the final tally last.
    await Promise.all([ctx.a.services.liveResults.idle(), ctx.b.services.liveResults.idle()]);
    const { rows } = await ctx.pool.query(`select payload from scope_events where type = 'poll.updated' and payload->>'pollId' = $1 order by seq desc limit 1`, [p.id]);
    expect(rows[0].payload.counts).toEqual(final);
    console.log(`coalescing: 500 votes in ${elapsed} ms → ${updatesOf(subs[0]!, p.id).length} and ${updatesOf(subs[1]!, p.id).length} poll.updated events`);
    for (const s of subs) s.stop();
  }, 240_000);
});
