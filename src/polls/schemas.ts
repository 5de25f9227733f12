import { z } from 'zod';

/**
 * Output schemas of polls.* (the REST view and the SDK's types come from them). Types
 * are inferred from these, so the wire shape has one source.
 */

export const ResultsVisibilitySchema = z.enum(['always', 'afterVote', 'afterClose']);

export const PollOptionView = z.object({
  id: z.uuid(),
  position: z.number().int(),
  text: z.string(),
  emoji: z.string().nullable(),
  /** Votes for this option; null while the results are hidden from the caller. */
  count: z.number().int().nullable(),
  /** Quiz only: a correct answer. Null unless the caller has voted (or wrote the quiz). */
  correct: z.boolean().nullable(),
});

export const PollView = z.object({
  id: z.uuid(),
  scopeId: z.uuid(),
  messageId: z.uuid(),
  createdBy: z.uuid(),
  question: z.string(),
  options: z.array(PollOptionView),
  minChoices: z.number().int(),
  maxChoices: z.number().int(),
  anonymous: z.boolean(),
  resultsVisibility: ResultsVisibilitySchema,
  allowVoteChange: z.boolean(),
  allowAddOptions: z.boolean(),
  quiz: z.boolean(),
  closesAt: z.date().nullable(),
  closedAt: z.date().nullable(),
  closed: z.boolean(),
  /** Members who voted (always shown, as Discord and Telegram show the total). */
  voterCount: z.number().int(),
  /** True when `count` is filled in for the caller. */
  resultsVisible: z.boolean(),
  /** The caller's chosen option ids (null: not voted). Only ever shown to the voter. */
  myVote: z.array(z.uuid()).nullable(),
  /** Quiz only: the explanation, once the caller has voted (or to its author). */
  explanation: z.string().nullable(),
  /** Quiz only: whether the caller's vote matches the correct options exactly (null before voting). */
  myVoteCorrect: z.boolean().nullable(),
  createdAt: z.date(),
});
export type PollView = z.infer<typeof PollView>;
export type PollOptionView = z.infer<typeof PollOptionView>;

export const PollVoterPage = z.object({
  items: z.array(z.object({ userId: z.uuid(), displayName: z.string(), votedAt: z.date().nullable() })),
  nextCursor: z.string().nullable(),
});
export type PollVoterPage = z.infer<typeof PollVoterPage>;
