import { z } from 'zod';
import { ResultsVisibilitySchema } from '../polls/schemas.js';
import { QUESTION_TYPES } from './questions.js';

/** Output schemas of surveys.* (the REST view and the SDK types come from them). */

export const QuestionView = z.object({
  id: z.uuid(),
  position: z.number().int(),
  type: z.enum(QUESTION_TYPES),
  prompt: z.string(),
  required: z.boolean(),
  options: z.array(z.object({ id: z.uuid(), text: z.string() })).optional(),
  allowOther: z.boolean().optional(),
  /** scale and rating: 1..max; number: the bounds. */
  min: z.number().optional(),
  max: z.number().optional(),
  minLabel: z.string().optional(),
  maxLabel: z.string().optional(),
  integer: z.boolean().optional(),
});

export const SurveyView = z.object({
  id: z.uuid(),
  scopeId: z.uuid(),
  messageId: z.uuid(),
  createdBy: z.uuid(),
  title: z.string(),
  description: z.string(),
  questions: z.array(QuestionView),
  anonymous: z.boolean(),
  resultsVisibility: ResultsVisibilitySchema,
  allowEdit: z.boolean(),
  closesAt: z.date().nullable(),
  closedAt: z.date().nullable(),
  closed: z.boolean(),
  responseCount: z.number().int(),
  /** The caller has a response. */
  responded: z.boolean(),
  /** True when surveys.results answers the caller. */
  resultsVisible: z.boolean(),
  createdAt: z.date(),
});
export type SurveyView = z.infer<typeof SurveyView>;

const StoredAnswer = z.union([
  z.object({ optionIds: z.array(z.uuid()), other: z.string().optional() }),
  z.object({ value: z.number() }),
  z.object({ text: z.string() }),
  z.object({ date: z.string() }),
]);

export const MyResponse = z
  .object({
    answers: z.record(z.string(), StoredAnswer),
    /** Null on anonymous surveys (no time is kept). */
    submittedAt: z.date().nullable(),
    updatedAt: z.date().nullable(),
  })
  .nullable();

export const TextPage = z.object({ items: z.array(z.string()), nextCursor: z.string().nullable() });
export type TextPage = z.infer<typeof TextPage>;

export const QuestionResult = z.object({
  questionId: z.uuid(),
  type: z.enum(QUESTION_TYPES),
  count: z.number().int(),
  choices: z.array(z.object({ optionId: z.uuid(), count: z.number().int(), percent: z.number() })).optional(),
  other: z.number().int().optional(),
  mean: z.number().nullable().optional(),
  median: z.number().nullable().optional(),
  stddev: z.number().nullable().optional(),
  distribution: z.array(z.object({ value: z.number(), count: z.number().int() })).optional(),
  /** Text questions: the first page of answers (more with surveys.textAnswers). */
  texts: TextPage.optional(),
});

export const SurveyResults = z.object({ surveyId: z.uuid(), responseCount: z.number().int(), questions: z.array(QuestionResult) });
export type SurveyResults = z.infer<typeof SurveyResults>;

export const SurveyExport = z.object({ filename: z.string(), contentType: z.string(), content: z.string() });
export type SurveyExport = z.infer<typeof SurveyExport>;
