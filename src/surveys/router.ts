import { z } from 'zod';
import { limits } from '../config.js';
import { MessageId } from '../messages/router.js';
import { ResultsVisibilitySchema } from '../polls/schemas.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { AnswerInput, NewQuestion } from './questions.js';
import { MyResponse, SurveyExport, SurveyResults, SurveyView, TextPage } from './schemas.js';

export const SurveyId = z.uuid({ message: 'surveyId must be a survey id (uuid)' });

export const CreateSurveyInput = z.object({
  scopeId: ScopeId,
  title: z.string().trim().min(1, 'title must not be empty').max(limits.surveyTitleMax, `title is at most ${limits.surveyTitleMax} characters`),
  description: z.string().max(limits.surveyDescriptionMax).optional(),
  questions: z
    .array(NewQuestion)
    .min(1, 'a survey needs at least one question')
    .max(limits.surveyQuestionsMax, `a survey has at most ${limits.surveyQuestionsMax} questions`),
  anonymous: z.boolean().optional(),
  /** Default afterVote: respondents see the results once they have responded. */
  resultsVisibility: ResultsVisibilitySchema.optional(),
  closesAt: z.coerce.date({ error: 'closesAt must be a date-time, e.g. 2027-01-31T18:00:00Z' }).optional(),
  /** Respondents may change their response until the survey closes. */
  allowEdit: z.boolean().optional(),
  threadRootId: MessageId.optional(),
  nonce: z.string().min(1).max(limits.nonceMax).optional(),
});

export const SurveyRef = z.object({ surveyId: SurveyId });
export const RespondInput = z.object({ surveyId: SurveyId, answers: z.array(AnswerInput).max(limits.surveyQuestionsMax) });
export const TextAnswersInput = z.object({
  surveyId: SurveyId,
  questionId: z.uuid(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(limits.pageMax).default(50),
});
export const ExportInput = z.object({ surveyId: SurveyId, format: z.enum(['csv', 'json']).default('csv') });

const tags = ['surveys'];

/** Surveys carried by messages: create, respond, results, export. */
export const surveysRouter = router({
  /**
   * Posts a message carrying a survey of 1–50 questions (single, multiple with optional
   * "Other", scale 1–N (N ≤ 10) with end labels, rating 1–5, number with min/max,
   * shortText ≤ 500, longText ≤ 5,000, date), each optionally required. Settings:
   * anonymous, resultsVisibility, closesAt (≤ 1 year), allowEdit. Needs CreatePolls.
   * Errors: BAD_REQUEST naming the question; FORBIDDEN; NOT_FOUND.
   */
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/surveys', protect: true, tags } })
    .input(CreateSurveyInput)
    .output(SurveyView)
    .mutation(({ ctx, input }) => ctx.svc.surveys.create(ctx.user.id, input)),

  /** One survey with its questions (ids to answer with). Needs View. Errors: NOT_FOUND. */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/surveys/{surveyId}', protect: true, tags } })
    .input(SurveyRef)
    .output(SurveyView)
    .query(({ ctx, input }) => ctx.svc.surveys.get(ctx.user.id, input)),

  /** The survey a message carries. Errors: NOT_FOUND when it carries none. */
  byMessage: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/messages/{messageId}/survey', protect: true, tags } })
    .input(z.object({ messageId: MessageId }))
    .output(SurveyView)
    .query(({ ctx, input }) => ctx.svc.surveys.get(ctx.user.id, input)),

  /**
   * Responds: `answers: [{ questionId, optionIds? | other? | value? | text? | date? }]`,
   * checked against the questions. One response per member; with allowEdit a new call
   * replaces it until close. Needs VoteInPolls.
   * Errors: BAD_REQUEST naming the question (`question 2 ("Rate us"): give a whole number
   * from 1 to 5`); CONFLICT (closed, already responded); FORBIDDEN; NOT_FOUND.
   */
  respond: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/surveys/{surveyId}/responses', protect: true, tags } })
    .input(RespondInput)
    .output(SurveyView)
    .mutation(({ ctx, input }) => ctx.svc.surveys.respond(ctx.user.id, input.surveyId, input.answers)),

  /** The caller's own response (null when none): `{ answers: { [questionId]: answer }, submittedAt, updatedAt }`. */
  myResponse: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/surveys/{surveyId}/responses/mine', protect: true, tags } })
    .input(SurveyRef)
    .output(MyResponse)
    .query(({ ctx, input }) => ctx.svc.surveys.myResponse(ctx.user.id, input.surveyId)),

  /**
   * Results per question: choice counts and percentages; count, mean, median, standard
   * deviation and distribution for scale, rating and number; the first page of text
   * answers. Under the same visibility rule as polls. Errors: FORBIDDEN (hidden); NOT_FOUND.
   */
  results: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/surveys/{surveyId}/results', protect: true, tags } })
    .input(SurveyRef)
    .output(SurveyResults)
    .query(({ ctx, input }) => ctx.svc.surveys.results(ctx.user.id, input.surveyId)),

  /** Text answers to one question, paged: `{ items, nextCursor }`, `limit` 1–100. */
  textAnswers: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/surveys/{surveyId}/text-answers', protect: true, tags } })
    .input(TextAnswersInput)
    .output(TextPage)
    .query(({ ctx, input }) => ctx.svc.surveys.textAnswers(ctx.user.id, input.surveyId, input.questionId, input.cursor, input.limit)),

  /**
   * Every response as CSV or JSON (`{ filename, contentType, content }`), one row per
   * response; identities only on surveys that are not anonymous. The author or
   * ManageMessages. Errors: FORBIDDEN; NOT_FOUND.
   */
  export: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/surveys/{surveyId}/export', protect: true, tags } })
    .input(ExportInput)
    .output(SurveyExport)
    .query(({ ctx, input }) => ctx.svc.surveys.export(ctx.user.id, input.surveyId, input.format)),

  /** Closes the survey now (its author, or ManageMessages); emits `survey.closed`. */
  close: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/surveys/{surveyId}/close', protect: true, tags } })
    .input(SurveyRef)
    .output(SurveyView)
    .mutation(({ ctx, input }) => ctx.svc.surveys.close(ctx.user.id, input.surveyId)),
});
