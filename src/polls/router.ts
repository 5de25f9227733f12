import { z } from 'zod';
import { limits } from '../config.js';
import { Emoji, MessageId } from '../messages/router.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { PollView, PollVoterPage, ResultsVisibilitySchema } from './schemas.js';

export const PollId = z.uuid({ message: 'pollId must be a poll id (uuid)' });
const OptionId = z.uuid({ message: 'an option id is a uuid' });

const OptionText = z
  .string()
  .trim()
  .min(1, 'an option must not be empty')
  .max(limits.pollOptionTextMax, `an option is at most ${limits.pollOptionTextMax} characters`);
const NewOption = z.object({ text: OptionText, emoji: Emoji.optional() });

export const CreatePollInput = z.object({
  scopeId: ScopeId,
  question: z.string().trim().min(1, 'question must not be empty').max(limits.pollQuestionMax, `question is at most ${limits.pollQuestionMax} characters`),
  options: z
    .array(NewOption)
    .min(limits.pollOptionsMin, `a poll needs at least ${limits.pollOptionsMin} options`)
    .max(limits.pollOptionsMax, `a poll has at most ${limits.pollOptionsMax} options`),
  /** 1/1 (the default) is single choice. */
  minChoices: z.number().int().min(1).max(limits.pollOptionsMax).optional(),
  maxChoices: z.number().int().min(1).max(limits.pollOptionsMax).optional(),
  anonymous: z.boolean().optional(),
  resultsVisibility: ResultsVisibilitySchema.optional(),
  /** When the poll closes by itself (at most one year ahead). */
  closesAt: z.coerce.date({ error: 'closesAt must be a date-time, e.g. 2027-01-31T18:00:00Z' }).optional(),
  /** Voters may change and take back their vote (default true; never on a quiz). */
  allowVoteChange: z.boolean().optional(),
  /** Members may add options until the first vote (up to 20). */
  allowAddOptions: z.boolean().optional(),
  /** Makes the poll a quiz: the indexes into `options` of the correct answers. */
  correctOptions: z.array(z.number().int().min(0).max(limits.pollOptionsMax - 1)).min(1).max(limits.pollOptionsMax).optional(),
  /** Quiz only: shown to a voter once they have voted. */
  explanation: z.string().trim().min(1).max(limits.pollExplanationMax, `explanation is at most ${limits.pollExplanationMax} characters`).optional(),
  /** Post the poll in this thread. */
  threadRootId: MessageId.optional(),
  /** As messages.send: a retry with the same nonce returns the same poll. */
  nonce: z.string().min(1).max(limits.nonceMax).optional(),
});

export const PollRef = z.object({ pollId: PollId });
export const PollByMessage = z.object({ messageId: MessageId });

export const ForMessagesInput = z.object({
  scopeId: ScopeId,
  messageIds: z.array(MessageId).min(1, 'name at least one message').max(limits.pageMax, `at most ${limits.pageMax} messages at a time`),
});

export const VoteInput = z.object({
  pollId: PollId,
  optionIds: z.array(OptionId).min(1, 'choose at least one option').max(limits.pollOptionsMax),
});

export const VotersInput = z.object({
  pollId: PollId,
  optionId: OptionId,
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(limits.pageMax).default(50),
});

export const AddOptionInput = z.object({ pollId: PollId, text: OptionText, emoji: Emoji.optional() });

const tags = ['polls'];

/** Polls carried by messages: create, vote, retract, close, voters, add options. */
export const pollsRouter = router({
  /**
   * Posts a message carrying a poll in any scope the caller can send to (community, group,
   * room, DM, or a thread with `threadRootId`). Needs SendMessages and CreatePolls.
   * `{ question (1–300), options: [{ text (1–100), emoji? }] (2–20), minChoices?, maxChoices?
   * (1/1: single choice), anonymous?, resultsVisibility? ('always' | 'afterVote' |
   * 'afterClose'), closesAt? (≤ 1 year), allowVoteChange?, allowAddOptions?, correctOptions?
   * (quiz), explanation?, nonce? }`. Returns the Poll as the caller sees it; emits
   * `message.created` then `poll.created`.
   * Errors: BAD_REQUEST naming the rule; FORBIDDEN; NOT_FOUND; TOO_MANY_REQUESTS (the send rate).
   */
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/polls', protect: true, tags } })
    .input(CreatePollInput)
    .output(PollView)
    .mutation(({ ctx, input }) => ctx.svc.polls.create(ctx.user.id, input)),

  /**
   * One poll: exact counts per option when the visibility rule lets the caller see them
   * (else null), the voter count, `myVote`, quiz answers once voted. Needs View.
   * Errors: NOT_FOUND; FORBIDDEN.
   */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/polls/{pollId}', protect: true, tags } })
    .input(PollRef)
    .output(PollView)
    .query(({ ctx, input }) => ctx.svc.polls.get(ctx.user.id, input)),

  /** The poll a message carries (as `get`). Errors: NOT_FOUND when it carries none. */
  byMessage: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/messages/{messageId}/poll', protect: true, tags } })
    .input(PollByMessage)
    .output(PollView)
    .query(({ ctx, input }) => ctx.svc.polls.get(ctx.user.id, input)),

  /**
   * The polls carried by messages of one scope (`messageIds`: 1–100, e.g. a page of
   * `messages.list`), each as `get` shows it, in the order of `messageIds`; messages that
   * carry none are left out. A client rendering history asks once per page instead of once
   * per message. Needs View. Errors: NOT_FOUND (scope); FORBIDDEN; BAD_REQUEST (ids).
   */
  forMessages: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/polls', protect: true, tags } })
    .input(ForMessagesInput)
    .output(z.array(PollView))
    .query(({ ctx, input }) => ctx.svc.polls.forMessages(ctx.user.id, input.scopeId, input.messageIds)),

  /**
   * Votes for `optionIds` (between minChoices and maxChoices of them), or changes the vote
   * when the poll allows it; the same vote again changes nothing. Needs VoteInPolls.
   * Returns the Poll (counts now visible on `afterVote` polls).
   * Errors: BAD_REQUEST (count, foreign option); CONFLICT (closed, already voted, quiz
   * vote final); FORBIDDEN; NOT_FOUND.
   */
  vote: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/polls/{pollId}/votes', protect: true, tags } })
    .input(VoteInput)
    .output(PollView)
    .mutation(({ ctx, input }) => ctx.svc.polls.vote(ctx.user.id, input.pollId, input.optionIds)),

  /** Takes the caller's vote back (allowVoteChange polls). Errors: CONFLICT (closed, not allowed, quiz); NOT_FOUND. */
  retract: authedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/polls/{pollId}/votes', protect: true, tags } })
    .input(PollRef)
    .output(PollView)
    .mutation(({ ctx, input }) => ctx.svc.polls.retract(ctx.user.id, input.pollId)),

  /** Closes the poll now (its author, or ManageMessages); emits `poll.closed` with the final tally. Errors: FORBIDDEN; NOT_FOUND. */
  close: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/polls/{pollId}/close', protect: true, tags } })
    .input(PollRef)
    .output(PollView)
    .mutation(({ ctx, input }) => ctx.svc.polls.close(ctx.user.id, input.pollId)),

  /**
   * Who voted for one option, oldest first: `{ items: [{ userId, displayName, votedAt }],
   * nextCursor }`, `limit` 1–100. Not for anonymous polls, and only when the caller may see
   * the results. Errors: FORBIDDEN; BAD_REQUEST (option, cursor); NOT_FOUND.
   */
  voters: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/polls/{pollId}/voters', protect: true, tags } })
    .input(VotersInput)
    .output(PollVoterPage)
    .query(({ ctx, input }) => ctx.svc.polls.voters(ctx.user.id, input.pollId, input.optionId, input.cursor, input.limit)),

  /**
   * Adds an option (allowAddOptions polls; the author always), until the first vote, up to
   * 20; needs VoteInPolls. Emits `poll.option_added`. Errors: CONFLICT; FORBIDDEN; BAD_REQUEST.
   */
  addOption: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/polls/{pollId}/options', protect: true, tags } })
    .input(AddOptionInput)
    .output(PollView)
    .mutation(({ ctx, input }) => ctx.svc.polls.addOption(ctx.user.id, input.pollId, input)),
});
