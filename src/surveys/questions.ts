import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { limits } from '../config.js';
import { invalid } from '../errors.js';

/**
 * Survey question types and answer validation: pure functions, no database. The types
 * follow Google Forms (multiple choice, checkboxes with "Other", linear scale with end
 * labels, rating, short answer, paragraph, date) plus a number question with bounds.
 */
export const QUESTION_TYPES = ['single', 'multiple', 'scale', 'rating', 'number', 'shortText', 'longText', 'date'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

const Prompt = z.string().trim().min(1, 'a question needs a prompt').max(limits.surveyPromptMax, `a prompt is at most ${limits.surveyPromptMax} characters`);
const Label = z.string().trim().max(limits.surveyScaleLabelMax, `a scale label is at most ${limits.surveyScaleLabelMax} characters`);
const OptionText = z.string().trim().min(1, 'an option must not be empty').max(limits.pollOptionTextMax, `an option is at most ${limits.pollOptionTextMax} characters`);

/** A question as its author writes it (surveys.create). */
export const NewQuestion = z.discriminatedUnion('type', [
  z.object({
    type: z.enum(['single', 'multiple']),
    prompt: Prompt,
    required: z.boolean().optional(),
    options: z.array(OptionText).min(2, 'a choice question needs at least 2 options').max(limits.surveyOptionsMax, `a choice question has at most ${limits.surveyOptionsMax} options`),
    /** Adds an "Other" answer with free text. */
    allowOther: z.boolean().optional(),
  }),
  z.object({
    type: z.literal('scale'),
    prompt: Prompt,
    required: z.boolean().optional(),
    /** The scale runs 1..max (2 to 10). */
    max: z.number().int().min(2).max(limits.surveyScaleMax),
    minLabel: Label.optional(),
    maxLabel: Label.optional(),
  }),
  z.object({ type: z.literal('rating'), prompt: Prompt, required: z.boolean().optional() }),
  z.object({
    type: z.literal('number'),
    prompt: Prompt,
    required: z.boolean().optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    integer: z.boolean().optional(),
  }),
  z.object({ type: z.enum(['shortText', 'longText', 'date']), prompt: Prompt, required: z.boolean().optional() }),
]);
export type NewQuestion = z.infer<typeof NewQuestion>;

/** What `config` holds per type. */
export interface QuestionConfig {
  options?: { id: string; text: string }[];
  allowOther?: boolean;
  max?: number;
  min?: number;
  minLabel?: string;
  maxLabel?: string;
  integer?: boolean;
}

/** A stored question, as the service reads it. */
export interface Question {
  id: string;
  position: number;
  type: QuestionType;
  prompt: string;
  required: boolean;
  config: QuestionConfig;
}

/** One answer as sent (surveys.respond): the field for its question's type. */
export const AnswerInput = z.object({
  questionId: z.uuid({ message: 'questionId must be a question id (uuid)' }),
  /** single (one id) and multiple. */
  optionIds: z.array(z.uuid()).max(limits.surveyOptionsMax).optional(),
  /** The "Other" text of a choice question that allows it. */
  other: z.string().trim().min(1).max(limits.surveyOtherTextMax).optional(),
  /** scale, rating, number. */
  value: z.number().finite().optional(),
  /** shortText, longText. */
  text: z.string().max(limits.surveyLongTextMax, `an answer is at most ${limits.surveyLongTextMax} characters`).optional(),
  /** date: YYYY-MM-DD. */
  date: z.string().max(10).optional(),
});
export type AnswerInput = z.infer<typeof AnswerInput>;

/** A stored answer: one of these shapes, by the question's type. */
export type Answer = { optionIds: string[]; other?: string } | { value: number } | { text: string } | { date: string };

/** Turns an author's questions into stored ones (ids for each question and option). @throws Invalid naming the question. */
export function buildQuestions(input: NewQuestion[]): Question[] {
  return input.map((q, i) => {
    const base = { id: randomUUID(), position: i, type: q.type, prompt: q.prompt, required: q.required ?? false };
    switch (q.type) {
      case 'single':
      case 'multiple': {
        if (new Set(q.options.map((o) => o.toLowerCase())).size !== q.options.length) throw invalid(`${name(i, q.prompt)}: two options have the same text`);
        return { ...base, config: { options: q.options.map((text) => ({ id: randomUUID(), text })), allowOther: q.allowOther ?? false } };
      }
      case 'scale':
        return { ...base, config: { max: q.max, ...(q.minLabel ? { minLabel: q.minLabel } : {}), ...(q.maxLabel ? { maxLabel: q.maxLabel } : {}) } };
      case 'rating':
        return { ...base, config: { max: 5 } };
      case 'number':
        if (q.min !== undefined && q.max !== undefined && q.min > q.max) throw invalid(`${name(i, q.prompt)}: min must not be above max`);
        return { ...base, config: { ...(q.min !== undefined ? { min: q.min } : {}), ...(q.max !== undefined ? { max: q.max } : {}), integer: q.integer ?? false } };
      default:
        return { ...base, config: {} };
    }
  });
}

/** `question 3 ("How old are you?")`: how errors name a question. */
export function name(index: number, prompt: string): string {
  const short = prompt.length > 40 ? `${prompt.slice(0, 40)}…` : prompt;
  return `question ${index + 1} ("${short}")`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date in YYYY-MM-DD. */
export function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/**
 * Checks a response against the questions: every required question answered, each answer
 * of the right shape and within its bounds, no answer to a question of another survey,
 * none twice. Blank text answers count as unanswered.
 * @returns the answers by question id, normalised (option ids in question order).
 * @throws Invalid naming the question: `question 2 ("Rate us"): give a value from 1 to 5`.
 */
export function validateAnswers(questions: Question[], answers: AnswerInput[]): Record<string, Answer> {
  const byId = new Map(questions.map((q) => [q.id, q]));
  const out: Record<string, Answer> = {};
  for (const a of answers) {
    const q = byId.get(a.questionId);
    if (!q) throw invalid(`question ${a.questionId} is not a question of this survey`);
    const at = name(q.position, q.prompt);
    if (a.questionId in out) throw invalid(`${at} is answered twice`);
    const answer = checkOne(q, a, at);
    if (answer) out[q.id] = answer;
  }
  for (const q of questions) if (q.required && !(q.id in out)) throw invalid(`${name(q.position, q.prompt)} is required`);
  return out;
}

function checkOne(q: Question, a: AnswerInput, at: string): Answer | null {
  const fields = (['optionIds', 'other', 'value', 'text', 'date'] as const).filter((f) => a[f] !== undefined);
  const allowed: Record<QuestionType, readonly string[]> = {
    single: ['optionIds', 'other'],
    multiple: ['optionIds', 'other'],
    scale: ['value'],
    rating: ['value'],
    number: ['value'],
    shortText: ['text'],
    longText: ['text'],
    date: ['date'],
  };
  const stray = fields.find((f) => !allowed[q.type].includes(f));
  if (stray) throw invalid(`${at} is a ${q.type} question: it takes ${allowed[q.type].join(' or ')}, not ${stray}`);
  switch (q.type) {
    case 'single':
    case 'multiple': {
      const ids = a.optionIds ?? [];
      const known = q.config.options ?? [];
      const unknown = ids.find((id) => !known.some((o) => o.id === id));
      if (unknown) throw invalid(`${at}: ${unknown} is not one of its options`);
      if (new Set(ids).size !== ids.length) throw invalid(`${at}: an option is chosen twice`);
      if (a.other !== undefined && !q.config.allowOther) throw invalid(`${at} has no "Other" answer`);
      const picks = ids.length + (a.other !== undefined ? 1 : 0);
      if (q.type === 'single' && picks > 1) throw invalid(`${at}: choose one option`);
      if (picks === 0) return null;
      return { optionIds: known.filter((o) => ids.includes(o.id)).map((o) => o.id), ...(a.other !== undefined ? { other: a.other } : {}) };
    }
    case 'scale':
    case 'rating':
    case 'number': {
      if (a.value === undefined) return null;
      const v = a.value;
      if (q.type !== 'number') {
        const max = q.config.max ?? 5;
        if (!Number.isInteger(v) || v < 1 || v > max) throw invalid(`${at}: give a whole number from 1 to ${max}`);
      } else {
        if (q.config.integer && !Number.isInteger(v)) throw invalid(`${at}: give a whole number`);
        if (q.config.min !== undefined && v < q.config.min) throw invalid(`${at}: the smallest answer is ${q.config.min}`);
        if (q.config.max !== undefined && v > q.config.max) throw invalid(`${at}: the largest answer is ${q.config.max}`);
      }
      return { value: v };
    }
    case 'shortText':
    case 'longText': {
      const text = (a.text ?? '').trim();
      if (text === '') return null;
      const max = q.type === 'shortText' ? limits.surveyShortTextMax : limits.surveyLongTextMax;
      if (text.length > max) throw invalid(`${at}: an answer is at most ${max} characters`);
      return { text };
    }
    case 'date': {
      if (a.date === undefined) return null;
      if (!isDate(a.date)) throw invalid(`${at}: give a date as YYYY-MM-DD`);
      return { date: a.date };
    }
  }
}
