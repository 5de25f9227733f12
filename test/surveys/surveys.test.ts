import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../helpers/errors.js';
import { collect } from '../helpers/subscribe.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { usePollServers } from '../polls/setup.js';
import { waitFor } from '../polls/wait.js';
import { aggregate, describe as stats } from '../../src/surveys/aggregate.js';
import { buildQuestions, isDate, validateAnswers } from '../../src/surveys/questions.js';

/* surveys.* end to end over the SDK on two instances, and the pure validation and aggregates. */
const { user, room } = usePollServers();

const QUESTIONS = [
  { type: 'single' as const, prompt: 'Favourite colour?', options: ['Red', 'Blue'], allowOther: true, required: true },
  { type: 'multiple' as const, prompt: 'Languages?', options: ['TS', 'Go', 'Rust'] },
  { type: 'scale' as const, prompt: 'How likely?', max: 10, minLabel: 'no', maxLabel: 'yes' },
  { type: 'rating' as const, prompt: 'Rate us' },
  { type: 'number' as const, prompt: 'Age?', min: 0, max: 150, integer: true },
  { type: 'shortText' as const, prompt: 'Nickname?' },
  { type: 'longText' as const, prompt: 'Anything else?' },
  { type: 'date' as const, prompt: 'Birthday?' },
];

describe('questions and aggregates (pure)', () => {
  const qs = buildQuestions(QUESTIONS);
  it('validates each type and names the question in the error', () => {
    const [single, multiple, scale, rating, num, , , date] = qs;
    expect(() => validateAnswers(qs, [])).toThrow('question 1 ("Favourite colour?") is required');
    const ok = validateAnswers(qs, [
      { questionId: single!.id, other: 'Green' },
      { questionId: multiple!.id, optionIds: [multiple!.config.options![2]!.id, multiple!.config.options![0]!.id] },
      { questionId: scale!.id, value: 10 },
      { questionId: date!.id, date: '2024-02-29' },
    ]);
    expect(ok[multiple!.id]).toEqual({ optionIds: [multiple!.config.options![0]!.id, multiple!.config.options![2]!.id] });
    const base = { questionId: single!.id, optionIds: [single!.config.options![0]!.id] };
    expect(() => validateAnswers(qs, [base, { questionId: rating!.id, value: 6 }])).toThrow('question 4 ("Rate us"): give a whole number from 1 to 5');
    expect(() => validateAnswers(qs, [base, { questionId: scale!.id, value: 0 }])).toThrow('question 3 ("How likely?"): give a whole number from 1 to 10');
    expect(() => validateAnswers(qs, [base, { questionId: num!.id, value: 151 }])).toThrow('question 5 ("Age?"): the largest answer is 150');
    expect(() => validateAnswers(qs, [base, { questionId: num!.id, value: 1.5 }])).toThrow('question 5 ("Age?"): give a whole number');
    expect(() => validateAnswers(qs, [base, { questionId: date!.id, date: '2023-02-29' }])).toThrow('question 8 ("Birthday?"): give a date as YYYY-MM-DD');
    expect(() => validateAnswers(qs, [{ questionId: single!.id, optionIds: single!.config.options!.map((o) => o.id) }])).toThrow('choose one option');
    expect(() => validateAnswers(qs, [base, { questionId: multiple!.id, other: 'x' }])).toThrow('question 2 ("Languages?") has no "Other" answer');
    expect(() => validateAnswers(qs, [base, { questionId: rating!.id, text: 'five' }])).toThrow('takes value, not text');
    expect(() => validateAnswers(qs, [base, base])).toThrow('answered twice');
    expect(isDate('2024-13-01')).toBe(false);
  });

  it('aggregates choices, scales and numbers', () => {
    const [single, multiple, scale] = qs;
    const [red, blue] = single!.config.options!;
    const responses = [
      { [single!.id]: { optionIds: [red!.id] }, [scale!.id]: { value: 2 }, [multiple!.id]: { optionIds: multiple!.config.options!.slice(0, 2).map((o) => o.id) } },
      { [single!.id]: { optionIds: [red!.id] }, [scale!.id]: { value: 4 } },
      { [single!.id]: { optionIds: [blue!.id] }, [scale!.id]: { value: 9 } },
      { [single!.id]: { optionIds: [], other: 'Green' } },
    ];
    const agg = aggregate(qs, responses);
    expect(agg.find((a) => a.questionId === single!.id)).toEqual({
      questionId: single!.id,
      count: 4,
      choices: [
        { optionId: red!.id, count: 2, percent: 50 },
        { optionId: blue!.id, count: 1, percent: 25 },
      ],
      other: 1,
    });
    const s = agg.find((a) => a.questionId === scale!.id)!;
    expect(s).toMatchObject({ count: 3, mean: 5, median: 4, stddev: Number(Math.sqrt(26 / 3).toFixed(4)) });
    expect(s.distribution).toHaveLength(10);
    expect(agg.find((a) => a.questionId === multiple!.id)!.choices!.map((c) => c.percent)).toEqual([100, 100, 0]);
    expect(stats([1, 2, 3, 4])).toEqual({ mean: 2.5, median: 2.5, stddev: 1.118 });
  });
});

describe('surveys over the API', () => {
  it('create, respond, myResponse, results, export; one response per member; allowEdit', async () => {
    const owner = await user('owner');
    const a = await user('alice');
    const b = await user('bob', 'b');
    const { room: r } = await room(owner, [a, b]);
    const s = await owner.client.surveys.create.mutate({ scopeId: r.id, title: 'Team survey', questions: QUESTIONS, resultsVisibility: 'always' });
    expect(s.questions.map((q) => q.type)).toEqual(QUESTIONS.map((q) => q.type));
    const [single, multiple, scale, rating, num, short, long, date] = s.questions;
    const err = await a.client.surveys.respond.mutate({ surveyId: s.id, answers: [{ questionId: rating!.id, value: 3 }] }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/question 1 \("Favourite colour\?"\) is required/);
    await a.client.surveys.respond.mutate({
      surveyId: s.id,
      answers: [
        { questionId: single!.id, optionIds: [single!.options![0]!.id] },
        { questionId: multiple!.id, optionIds: [multiple!.options![0]!.id, multiple!.options![1]!.id] },
        { questionId: scale!.id, value: 8 },
        { questionId: rating!.id, value: 5 },
        { questionId: num!.id, value: 30 },
        { questionId: short!.id, text: 'Al' },
        { questionId: long!.id, text: 'More "quotes", commas\nand lines' },
        { questionId: date!.id, date: '1990-05-01' },
      ],
    });
    await b.client.surveys.respond.mutate({ surveyId: s.id, answers: [{ questionId: single!.id, other: 'Green' }, { questionId: rating!.id, value: 3 }] });
    expect(await codeOf(b.client.surveys.respond.mutate({ surveyId: s.id, answers: [{ questionId: single!.id, other: 'Teal' }] }))).toBe('CONFLICT');
    expect((await a.client.surveys.myResponse.query({ surveyId: s.id }))!.answers[rating!.id]).toEqual({ value: 5 });
    expect(await owner.client.surveys.myResponse.query({ surveyId: s.id })).toBeNull();

    const res = await owner.client.surveys.results.query({ surveyId: s.id });
    expect(res.responseCount).toBe(2);
    const by = (id: string) => res.questions.find((q) => q.questionId === id)!;
    expect(by(single!.id)).toMatchObject({ count: 2, other: 1 });
    expect(by(rating!.id)).toMatchObject({ count: 2, mean: 4, median: 4, stddev: 1 });
    expect(by(long!.id).texts!.items).toEqual(['More "quotes", commas\nand lines']);
    expect(by(num!.id)).toMatchObject({ count: 1, mean: 30 });

    const csv = await owner.client.surveys.export.query({ surveyId: s.id, format: 'csv' });
    const rows = parse(csv.content) as string[][];
    expect(rows[0]).toEqual(['userId', 'displayName', 'submittedAt', ...QUESTIONS.map((q) => q.prompt)]);
    expect(rows).toHaveLength(3);
    const aliceRow = rows.find((x) => x[0] === a.userId)!;
    expect(aliceRow.slice(3)).toEqual(['Red', 'TS; Go', '8', '5', '30', 'Al', 'More "quotes", commas\nand lines', '1990-05-01']);
    const json = JSON.parse((await owner.client.surveys.export.query({ surveyId: s.id, format: 'json' })).content);
    expect(json.responses).toHaveLength(2);
    expect(await codeOf(a.client.surveys.export.query({ surveyId: s.id, format: 'csv' }))).toBe('FORBIDDEN');

    const editable = await owner.client.surveys.create.mutate({ scopeId: r.id, title: 'Editable', questions: [{ type: 'rating', prompt: 'Rate' }], allowEdit: true });
    const q = editable.questions[0]!.id;
    await a.client.surveys.respond.mutate({ surveyId: editable.id, answers: [{ questionId: q, value: 1 }] });
    await a.client.surveys.respond.mutate({ surveyId: editable.id, answers: [{ questionId: q, value: 4 }] });
    expect((await a.client.surveys.results.query({ surveyId: editable.id })).questions[0]).toMatchObject({ count: 1, mean: 4 });
    await owner.client.surveys.close.mutate({ surveyId: editable.id });
    expect(await codeOf(a.client.surveys.respond.mutate({ surveyId: editable.id, answers: [{ questionId: q, value: 2 }] }))).toBe('CONFLICT');
  });

  it('refuses bad surveys', async () => {
    const owner = await user('owner');
    const { room: r } = await room(owner);
    const bad = (input: Record<string, unknown>) => codeOf(owner.client.surveys.create.mutate({ scopeId: r.id, title: 'T', questions: QUESTIONS, ...input } as never));
    expect(await bad({ questions: [] })).toBe('BAD_REQUEST');
    expect(await bad({ questions: Array.from({ length: 51 }, () => ({ type: 'rating', prompt: 'r' })) })).toBe('BAD_REQUEST');
    expect(await bad({ questions: [{ type: 'scale', prompt: 's', max: 11 }] })).toBe('BAD_REQUEST');
    expect(await bad({ questions: [{ type: 'single', prompt: 's', options: ['a'] }] })).toBe('BAD_REQUEST');
    expect(await bad({ questions: [{ type: 'number', prompt: 'n', min: 5, max: 1 }] })).toBe('BAD_REQUEST');
    expect(await bad({ closesAt: new Date(Date.now() - 1) })).toBe('BAD_REQUEST');
  });

  it('visibility: afterVote over get/results and survey.updated; afterClose until closed', async () => {
    const owner = await user('owner');
    const a = await user('alice');
    const n = await user('onlooker', 'b');
    const { room: r } = await room(owner, [a, n]);
    const subA = collect<ScopeStreamEvent>((h) => a.client.messages.onEvent.subscribe({ scopeId: r.id }, h));
    const subN = collect<ScopeStreamEvent>((h) => n.client.messages.onEvent.subscribe({ scopeId: r.id }, h));
    await Promise.all([subA.started, subN.started]);
    const s = await owner.client.surveys.create.mutate({ scopeId: r.id, title: 'AV', questions: [{ type: 'rating', prompt: 'Rate' }], resultsVisibility: 'afterVote' });
    const c = await owner.client.surveys.create.mutate({ scopeId: r.id, title: 'AC', questions: [{ type: 'rating', prompt: 'Rate' }], resultsVisibility: 'afterClose' });
    await a.client.surveys.respond.mutate({ surveyId: s.id, answers: [{ questionId: s.questions[0]!.id, value: 4 }] });
    await a.client.surveys.respond.mutate({ surveyId: c.id, answers: [{ questionId: c.questions[0]!.id, value: 2 }] });
    const updated = (sub: typeof subA, id: string) =>
      waitFor(sub, (e) => e.type === 'survey.updated' && e.surveyId === id && e.responseCount === 1) as Promise<Extract<ScopeStreamEvent, { type: 'survey.updated' }>>;
    expect((await updated(subA, s.id)).aggregates![0]).toMatchObject({ count: 1, mean: 4 });
    expect((await updated(subN, s.id)).aggregates).toBeNull();
    expect((await updated(subA, c.id)).aggregates).toBeNull();
    expect(await codeOf(n.client.surveys.results.query({ surveyId: s.id }))).toBe('FORBIDDEN');
    expect(await codeOf(a.client.surveys.results.query({ surveyId: c.id }))).toBe('FORBIDDEN');
    expect(await codeOf(owner.client.surveys.results.query({ surveyId: c.id }))).toBe('FORBIDDEN');
    await owner.client.surveys.close.mutate({ surveyId: c.id });
    const closed = await waitFor(subN, (e) => e.type === 'survey.closed' && e.surveyId === c.id);
    expect(closed).toMatchObject({ responseCount: 1, aggregates: [{ count: 1, mean: 2 }] });
    expect((await n.client.surveys.results.query({ surveyId: c.id })).questions[0]).toMatchObject({ mean: 2 });
    subA.stop();
    subN.stop();
  });
});
