import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/errors.js';
import { collect } from '../helpers/subscribe.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { usePollServers } from './setup.js';
import { waitFor } from './wait.js';

/*
 * polls.* end to end over the SDK (HTTP for calls, WebSocket for the scope stream) on two
 * instances, real PostgreSQL and Redis.
 */
const { ctx, user, room } = usePollServers();

const opts = (...texts: string[]) => texts.map((text) => ({ text }));

describe('polls.create', () => {
  it('posts a message carrying the poll, in a room, a thread and a DM', async () => {
    const owner = await user('owner');
    const friend = await user('friend');
    const { room: r } = await room(owner, [friend]);
    const poll = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Lunch?', options: [{ text: 'Pizza', emoji: '🍕' }, { text: 'Sushi' }] });
    expect(poll).toMatchObject({ question: 'Lunch?', minChoices: 1, maxChoices: 1, voterCount: 0, resultsVisible: true, myVote: null, closed: false });
    expect(poll.options.map((o) => [o.text, o.emoji, o.count])).toEqual([
      ['Pizza', '🍕', 0],
      ['Sushi', null, 0],
    ]);
    const msg = await owner.client.messages.get.query({ scopeId: r.id, messageId: poll.messageId });
    expect(msg.body).toBe('Lunch?');
    expect((await friend.client.polls.byMessage.query({ messageId: poll.messageId })).id).toBe(poll.id);

    const inThread = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Thread?', options: opts('a', 'b'), threadRootId: poll.messageId });
    expect((await owner.client.messages.get.query({ scopeId: r.id, messageId: inThread.messageId })).threadRootId).toBe(poll.messageId);

    const dm = await owner.client.dms.open.mutate({ userIds: [friend.userId] });
    const dmPoll = await owner.client.polls.create.mutate({ scopeId: dm.scope.id, question: 'DM?', options: opts('yes', 'no') });
    expect((await friend.client.polls.vote.mutate({ pollId: dmPoll.id, optionIds: [dmPoll.options[0]!.id] })).voterCount).toBe(1);
  });

  it('refuses bad input with BAD_REQUEST naming the rule, and changes nothing', async () => {
    const owner = await user('owner');
    const { room: r } = await room(owner);
    const bad = async (input: Record<string, unknown>, re: RegExp) => {
      const err = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b'), ...input } as never).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(re);
    };
    await bad({ question: '' }, /question must not be empty/);
    await bad({ question: 'x'.repeat(301) }, /at most 300/);
    await bad({ options: opts('only') }, /at least 2 options/);
    await bad({ options: opts(...Array.from({ length: 21 }, (_, i) => `o${i}`)) }, /at most 20 options/);
    await bad({ options: opts('a', 'x'.repeat(101)) }, /at most 100 characters/);
    await bad({ options: opts('Same', 'same') }, /same text/);
    await bad({ maxChoices: 3 }, /has 2 options/);
    await bad({ minChoices: 2, maxChoices: 1 }, /minChoices must not be above/);
    await bad({ closesAt: new Date(Date.now() - 1000) }, /in the future/);
    await bad({ closesAt: new Date(Date.now() + 400 * 86_400_000) }, /one year/);
    await bad({ correctOptions: [5] }, /past the last option/);
    await bad({ correctOptions: [0], allowVoteChange: true }, /quiz vote is final/);
    await bad({ explanation: 'why' }, /for quizzes/);
    const page = await owner.client.messages.list.query({ scopeId: r.id });
    expect(page.items).toHaveLength(0);
  });

  it('needs CreatePolls; a nonce retry returns the same poll', async () => {
    const owner = await user('owner');
    const member = await user('member');
    const { community, room: r } = await room(owner, [member]);
    const everyone = (await owner.client.roles.list.query({ scopeId: community.id })).find((x) => x.kind === 'everyone')!;
    await owner.client.roles.update.mutate({ roleId: everyone.id, permissions: everyone.permissions & ~(1n << 8n) });
    expect(await codeOf(member.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b') }))).toBe('FORBIDDEN');
    const first = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Once', options: opts('a', 'b'), nonce: 'n-1' });
    const again = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Once', options: opts('a', 'b'), nonce: 'n-1' });
    expect(again.id).toBe(first.id);
  });
});

describe('polls.vote / retract / close', () => {
  it('counts, changes and retracts a vote; a closed poll refuses', async () => {
    const owner = await user('owner');
    const v = await user('voter');
    const { room: r } = await room(owner, [v]);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b', 'c') });
    const [a, b] = p.options.map((o) => o.id);
    let seen = await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [a!] });
    expect(seen).toMatchObject({ voterCount: 1, myVote: [a] });
    seen = await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [b!] });
    expect(seen.options.map((o) => o.count)).toEqual([0, 1, 0]);
    expect(await codeOf(v.client.polls.vote.mutate({ pollId: p.id, optionIds: [a!, b!] }))).toBe('BAD_REQUEST');
    seen = await v.client.polls.retract.mutate({ pollId: p.id });
    expect(seen).toMatchObject({ voterCount: 0, myVote: null });
    await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [a!] });
    expect(await codeOf(v.client.polls.close.mutate({ pollId: p.id }))).toBe('FORBIDDEN');
    const closed = await owner.client.polls.close.mutate({ pollId: p.id });
    expect(closed).toMatchObject({ closed: true, voterCount: 1 });
    expect(await codeOf(v.client.polls.vote.mutate({ pollId: p.id, optionIds: [b!] }))).toBe('CONFLICT');
    expect(await codeOf(v.client.polls.retract.mutate({ pollId: p.id }))).toBe('CONFLICT');
  });

  it("once anyone voted, the carrying message's body (the question) cannot be edited; deleting it still works", async () => {
    const owner = await user('editor');
    const v = await user('editvoter');
    const { room: r } = await room(owner, [v]);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Lunch?', options: opts('pizza', 'soup') });
    await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[0]!.id] });
    expect(await codeOf(owner.client.messages.edit.mutate({ scopeId: r.id, messageId: p.messageId, body: 'Dinner?' }))).toBe('CONFLICT');
    expect((await owner.client.messages.get.query({ scopeId: r.id, messageId: p.messageId })).body).toBe('Lunch?');
    await owner.client.messages.delete.mutate({ scopeId: r.id, messageId: p.messageId });
    expect(await codeOf(owner.client.polls.get.query({ pollId: p.id }))).toBe('NOT_FOUND');
  });

  it('refuses an option of another poll, a vote change when not allowed, and a vote without VoteInPolls', async () => {
    const owner = await user('owner');
    const v = await user('voter');
    const { community, room: r } = await room(owner, [v]);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b'), allowVoteChange: false });
    const q = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q2', options: opts('a', 'b') });
    expect(await codeOf(v.client.polls.vote.mutate({ pollId: p.id, optionIds: [q.options[0]!.id] }))).toBe('BAD_REQUEST');
    await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[0]!.id] });
    expect(await codeOf(v.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[1]!.id] }))).toBe('CONFLICT');
    expect(await codeOf(v.client.polls.retract.mutate({ pollId: p.id }))).toBe('CONFLICT');
    // Announcement-style: the owner takes VoteInPolls away from everyone.
    const everyone = (await owner.client.roles.list.query({ scopeId: community.id })).find((x) => x.kind === 'everyone')!;
    await owner.client.roles.update.mutate({ roleId: everyone.id, permissions: everyone.permissions & ~(1n << 21n) });
    expect(await codeOf(v.client.polls.vote.mutate({ pollId: q.id, optionIds: [q.options[0]!.id] }))).toBe('FORBIDDEN');
    expect((await v.client.polls.get.query({ pollId: q.id })).options[0]!.count).toBe(0);
  });

  it('multiple choice within min and max', async () => {
    const owner = await user('owner');
    const { room: r } = await room(owner);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b', 'c', 'd'), minChoices: 2, maxChoices: 3 });
    const ids = p.options.map((o) => o.id);
    expect(await codeOf(owner.client.polls.vote.mutate({ pollId: p.id, optionIds: [ids[0]!] }))).toBe('BAD_REQUEST');
    expect(await codeOf(owner.client.polls.vote.mutate({ pollId: p.id, optionIds: ids }))).toBe('BAD_REQUEST');
    const seen = await owner.client.polls.vote.mutate({ pollId: p.id, optionIds: [ids[3]!, ids[1]!] });
    expect(seen.myVote).toEqual([ids[1], ids[3]]);
    expect(seen.options.map((o) => o.count)).toEqual([0, 1, 0, 1]);
  });

  it('quiz: answers and explanation after voting, and the vote is final', async () => {
    const owner = await user('owner');
    const v = await user('voter');
    const { room: r } = await room(owner, [v]);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: '2+2?', options: opts('3', '4'), correctOptions: [1], explanation: 'arithmetic' });
    const before = await v.client.polls.get.query({ pollId: p.id });
    expect(before).toMatchObject({ quiz: true, explanation: null, myVoteCorrect: null, allowVoteChange: false });
    expect(before.options.map((o) => o.correct)).toEqual([null, null]);
    const after = await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[0]!.id] });
    expect(after).toMatchObject({ explanation: 'arithmetic', myVoteCorrect: false });
    expect(after.options.map((o) => o.correct)).toEqual([false, true]);
    expect(await codeOf(v.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[1]!.id] }))).toBe('CONFLICT');
  });

  it('allowAddOptions: members add options until the first vote', async () => {
    const owner = await user('owner');
    const v = await user('voter');
    const { room: r } = await room(owner, [v]);
    const closedToAdds = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b') });
    expect(await codeOf(v.client.polls.addOption.mutate({ pollId: closedToAdds.id, text: 'c' }))).toBe('FORBIDDEN');
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b'), allowAddOptions: true });
    const grown = await v.client.polls.addOption.mutate({ pollId: p.id, text: 'c', emoji: '🎉' });
    expect(grown.options.map((o) => o.text)).toEqual(['a', 'b', 'c']);
    expect(await codeOf(v.client.polls.addOption.mutate({ pollId: p.id, text: 'C' }))).toBe('BAD_REQUEST');
    await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [grown.options[2]!.id] });
    expect(await codeOf(v.client.polls.addOption.mutate({ pollId: p.id, text: 'd' }))).toBe('CONFLICT');
  });

  it('voters: paginated for named polls, refused for anonymous ones', async () => {
    const owner = await user('owner');
    const vs = [await user('v1'), await user('v2'), await user('v3')];
    const { room: r } = await room(owner, vs);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b') });
    for (const v of vs) await v.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[0]!.id] });
    const first = await owner.client.polls.voters.query({ pollId: p.id, optionId: p.options[0]!.id, limit: 2 });
    const second = await owner.client.polls.voters.query({ pollId: p.id, optionId: p.options[0]!.id, limit: 2, cursor: first.nextCursor! });
    expect([...first.items, ...second.items].map((i) => i.userId)).toEqual(vs.map((v) => v.userId));
    expect(second.nextCursor).toBeNull();
    const anon = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b'), anonymous: true });
    expect(await codeOf(owner.client.polls.voters.query({ pollId: anon.id, optionId: anon.options[0]!.id }))).toBe('FORBIDDEN');
  });

  it('deleting the message deletes the poll', async () => {
    const owner = await user('owner');
    const { room: r } = await room(owner);
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b') });
    await owner.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[0]!.id] });
    await owner.client.messages.delete.mutate({ scopeId: r.id, messageId: p.messageId });
    expect(await codeOf(owner.client.polls.get.query({ pollId: p.id }))).toBe('NOT_FOUND');
  });

  it('a stranger gets NOT_FOUND for a poll in a private room', async () => {
    const owner = await user('owner');
    const stranger = await user('stranger');
    const community = await owner.client.scopes.create.mutate({ kind: 'community', name: 'Private', visibility: 'secret' });
    const p = await owner.client.polls.create.mutate({ scopeId: community.id, question: 'Q', options: opts('a', 'b') });
    expect(await codeOf(stranger.client.polls.get.query({ pollId: p.id }))).toBe('NOT_FOUND');
    expect(await codeOf(stranger.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[0]!.id] }))).toBe('NOT_FOUND');
  });

  it('forMessages: the polls of a history page in one call, as each member sees them; REST with repeated ids', async () => {
    const owner = await user('owner');
    const member = await user('member');
    const { room: r } = await room(owner, [member]);
    const plain = await owner.client.messages.send.mutate({ scopeId: r.id, body: 'not a poll' });
    const open = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Open?', options: opts('a', 'b') });
    const hidden = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Hidden?', options: opts('x', 'y'), resultsVisibility: 'afterVote' });
    await owner.client.polls.vote.mutate({ pollId: hidden.id, optionIds: [hidden.options[1]!.id] });
    const page = await member.client.messages.list.query({ scopeId: r.id });
    const found = await member.client.polls.forMessages.query({ scopeId: r.id, messageIds: page.items.map((m) => m.id) });
    // Newest first, as the page: the plain message carries none.
    expect(found.map((p) => p.id)).toEqual([hidden.id, open.id]);
    expect(found[0]!.options.map((o) => o.count)).toEqual([null, null]);
    expect(found[0]!.voterCount).toBe(1);
    expect((await owner.client.polls.forMessages.query({ scopeId: r.id, messageIds: [hidden.messageId] }))[0]!.options.map((o) => o.count)).toEqual([0, 1]);
    expect(await member.client.polls.forMessages.query({ scopeId: r.id, messageIds: [plain.id] })).toEqual([]);

    const res = await fetch(`${ctx.a.url}/api/scopes/${r.id}/polls?messageIds=${open.messageId}`, { headers: { authorization: `Bearer ${member.token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }[]).map((p) => p.id)).toEqual([open.id]);

    const stranger = await user('stranger');
    expect(await codeOf(stranger.client.polls.forMessages.query({ scopeId: r.id, messageIds: [open.messageId] }))).toBe('FORBIDDEN');
    expect(await codeOf(member.client.polls.forMessages.query({ scopeId: r.id, messageIds: [] }))).toBe('BAD_REQUEST');
  });
});

describe('closesAt', () => {
  it('closes by itself and sends poll.closed with the final tally', async () => {
    const owner = await user('owner');
    const { room: r } = await room(owner);
    const sub = collect<ScopeStreamEvent>((h) => owner.client.messages.onEvent.subscribe({ scopeId: r.id }, h));
    await sub.started;
    const p = await owner.client.polls.create.mutate({ scopeId: r.id, question: 'Q', options: opts('a', 'b'), closesAt: new Date(Date.now() + 1500) });
    await owner.client.polls.vote.mutate({ pollId: p.id, optionIds: [p.options[1]!.id] });
    const closed = await waitFor(sub, (e) => e.type === 'poll.closed');
    expect(closed).toMatchObject({ pollId: p.id, voterCount: 1, counts: [{ optionId: p.options[0]!.id, count: 0 }, { optionId: p.options[1]!.id, count: 1 }] });
    expect((await owner.client.polls.get.query({ pollId: p.id })).closed).toBe(true);
    const rows = await ctx.pool.query(`select count(*)::int as n from scope_events where type = 'poll.closed' and payload->>'pollId' = $1`, [p.id]);
    expect(rows.rows[0].n).toBe(1);
    sub.stop();
  });
});
