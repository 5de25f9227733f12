/**
 * The conversation events of polls and surveys (members of the ScopeEvent union in
 * src/messages/events.ts). Counts are exact tallies from the triggers. `counts` and
 * `aggregates` are null where the results visibility hides them from this receiver:
 * `afterClose` before the close for everyone, `afterVote` for a receiver who has not
 * voted (or responded). Events never name a voter.
 */

/** Who may see the results: everyone, those who voted (responded), or everyone once closed (Telegram's hidden results). */
export type ResultsVisibility = 'always' | 'afterVote' | 'afterClose';

/** Votes per option. */
export interface OptionCount {
  optionId: string;
  count: number;
}

interface Base {
  scopeId: string;
  seq: number;
  actorId: string | null;
  at: Date;
}

/** Live results of a choice, scale, rating or number question (text answers are never in events). */
export interface QuestionAggregate {
  questionId: string;
  /** Answers given to this question. */
  count: number;
  /** Choice questions: answers per option id (and `other` for free text). */
  choices?: { optionId: string; count: number; percent: number }[];
  other?: number;
  /** Scale, rating, number. */
  mean?: number | null;
  median?: number | null;
  stddev?: number | null;
  distribution?: { value: number; count: number }[];
}

export type PollScopeEvent =
  | (Base & { type: 'poll.created'; pollId: string; messageId: string; question: string })
  /**
   * The tally changed (coalesced: at most one per poll per 250 ms; the last one of a burst
   * carries the final tally). `counts` null: hidden for this receiver.
   */
  | (Base & {
      type: 'poll.updated';
      pollId: string;
      messageId: string;
      resultsVisibility: ResultsVisibility;
      voterCount: number;
      counts: OptionCount[] | null;
    })
  /** A member added an option (allowAddOptions, before the first vote). */
  | (Base & { type: 'poll.option_added'; pollId: string; messageId: string; option: { id: string; text: string; emoji: string | null; position: number } })
  /** The poll closed (by its author, a moderator or at closesAt); the final tally, visible to everyone. */
  | (Base & { type: 'poll.closed'; pollId: string; messageId: string; voterCount: number; counts: OptionCount[] })
  | (Base & { type: 'survey.created'; surveyId: string; messageId: string; title: string })
  /** Responses changed (coalesced as polls); `aggregates` null: hidden for this receiver. */
  | (Base & {
      type: 'survey.updated';
      surveyId: string;
      messageId: string;
      resultsVisibility: ResultsVisibility;
      responseCount: number;
      aggregates: QuestionAggregate[] | null;
    })
  | (Base & { type: 'survey.closed'; surveyId: string; messageId: string; responseCount: number; aggregates: QuestionAggregate[] });

/** The poll and survey event types, for the log's reader. */
export const POLL_EVENT_TYPES = [
  'poll.created',
  'poll.updated',
  'poll.option_added',
  'poll.closed',
  'survey.created',
  'survey.updated',
  'survey.closed',
] as const satisfies readonly PollScopeEvent['type'][];
