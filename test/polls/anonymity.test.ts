import { describe, expect, it } from 'vitest';
import { collect, type Collected } from '../helpers/subscribe.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { usePollServers } from './setup.js';
import { waitFor } from './wait.js';

/*
 * Anonymity over everything a run of anonymous polls and surveys leaves behind: every HTTP
 * response body (fetch is recorded below, before any client exists), every event on the
 * stream, every export and every log line of both instances (trace level). No document
 * that holds a voter's id may hold anything of that voter's choice: an option id of the
 * anonymous poll, a question id of the anonymous survey, or the voter's own answer text.
 * The vote and response rows hold no user id at all.
 */
const bodies: string[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
  const res = await realFetch(...args);
  bodies.push(await res.clone().text());
  return res;
};

const { ctx, logs, user, room } = usePollServers();

describe('anonymous polls and surveys', () => {
  it('link no voter to a choice in any body, event, export, log line or row', async () => {
    const owner = await user('owner');
    const voters = await Promise.all(Array.from({ length: 5 }, (_, i) => user(`voter${i}`, i % 2 ? 'b' : 'a')));
    const { room: r } = await room(owner, voters);
    const subs: Collected<ScopeStreamEvent>[] = [owner, ...voters].map((u) => collect<ScopeStreamEvent>((h) => u.client.messages.onEvent.subscribe({ scopeId: r.id }, h)));
    await Promise.all(subs.map((s) => s.started));

    const poll = await owner.client.polls.create.mutate({
      scopeId: r.id,
      question: 'Secret ballot',
      options: [{ text: 'yes' }, { text: 'no' }, { text: 'abstain' }],
      anonymous: true,
      maxChoices: 2,
    });
    const optionIds = poll.options.map((o) => o.id);
    const survey = await owner.client.surveys.create.mutate({
      scopeId: r.id,
      title: 'Anonymous feedback',
      anonymous: true,
      resultsVisibility: 'always',
      allowEdit: true,
      questions: [
        { type: 'single', prompt: 'Happy?', options: ['yes', 'no'] },
        { type: 'shortText', prompt: 'Say anything' },
      ],
    });
    const questionIds = survey.questions.map((q) => q.id);
    const secret = (i: number) => `secret-answer-of-voter-${i}`;

    for (const [i, v] of voters.entries()) {
      await v.client.polls.vote.mutate({ pollId: poll.id, optionIds: [optionIds[i % 3]!] });
      if (i % 2) await v.client.polls.vote.mutate({ pollId: poll.id, optionIds: [optionIds[(i + 1) % 3]!, optionIds[(i + 2) % 3]!] });
      if (i === 4) await v.client.polls.retract.mutate({ pollId: poll.id });
      expect(await v.client.polls.get.query({ pollId: poll.id })).toMatchObject({ anonymous: true });
      await v.client.surveys.respond.mutate({
        surveyId: survey.id,
        answers: [
          { questionId: questionIds[0]!, optionIds: [survey.questions[0]!.options![i % 2]!.id] },
          { questionId: questionIds[1]!, text: secret(i) },
        ],
      });
      await v.client.surveys.myResponse.query({ surveyId: survey.id });
    }
    await voters[0]!.client.surveys.results.query({ surveyId: survey.id });
    await voters[0]!.client.surveys.textAnswers.query({ surveyId: survey.id, questionId: questionIds[1]! });
    const exports = [
      await owner.client.surveys.export.query({ surveyId: survey.id, format: 'csv' }),
      await owner.client.surveys.export.query({ surveyId: survey.id, format: 'json' }),
    ].map((e) => e.content);
    await owner.client.polls.close.mutate({ pollId: poll.id });
    await owner.client.surveys.close.mutate({ surveyId: survey.id });
    for (const s of subs) {
      await waitFor(s, (e) => e.type === 'poll.closed');
      await waitFor(s, (e) => e.type === 'survey.closed');
    }
    // The owner sees every answer text in the export: the texts are there, the identities not.
    for (let i = 0; i < voters.length; i++) expect(exports[0]).toContain(secret(i));

    const documents = [
      ...bodies.map((b) => ['response', b] as const),
      ...subs.flatMap((s) => s.items.map((e) => ['event', JSON.stringify(e)] as const)),
      ...exports.map((e) => ['export', e] as const),
      ...logs.map((l) => ['log', l] as const),
    ];
    expect(documents.filter(([k]) => k === 'response').length).toBeGreaterThan(30);
    expect(documents.filter(([k]) => k === 'event').length).toBeGreaterThan(10);
    console.log(`anonymity: ${documents.length} documents checked (${logs.length} log lines)`);
    for (const [i, v] of voters.entries()) {
      const choice = [...optionIds, ...questionIds, ...survey.questions[0]!.options!.map((o) => o.id), secret(i)];
      for (const [kind, doc] of documents) {
        if (!doc.includes(v.userId)) continue;
        for (const c of choice) expect(doc.includes(c), `${kind} holds voter ${i} and ${c}: ${doc.slice(0, 300)}`).toBe(false);
      }
    }
    for (const e of exports) for (const v of voters) expect(e).not.toContain(v.userId);

    const ids = [owner, ...voters].map((u) => u.userId);
    const votes = await ctx.pool.query(`select voter, voted_at from poll_votes where poll_id = $1`, [poll.id]);
    expect(votes.rows.length).toBeGreaterThan(0);
    for (const row of votes.rows) {
      expect(ids.some((id) => row.voter.includes(id))).toBe(false);
      expect(row.voter).toMatch(/^h:[A-Za-z0-9_-]{43}$/);
      expect(row.voted_at).toBeNull();
    }
    const responses = await ctx.pool.query(`select respondent, answers::text, submitted_at, updated_at from survey_responses where survey_id = $1`, [survey.id]);
    expect(responses.rows).toHaveLength(5);
    for (const row of responses.rows) {
      expect(ids.some((id) => row.respondent.includes(id) || row.answers.includes(id))).toBe(false);
      expect(row.submitted_at).toBeNull();
      expect(row.updated_at).toBeNull();
    }
    // The whole database holds no voter hash next to a user id either: no table but these has the hash.
    const dump = await ctx.pool.query(`select payload::text from scope_events where scope_id = $1`, [r.id]);
    for (const row of dump.rows) for (const v of votes.rows) expect(row.payload).not.toContain(v.voter);
    for (const s of subs) s.stop();
  }, 120_000);
});
