import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';
import { messages } from './messages.js';

/**
 * Polls. Each is carried by one message (deleting the message deletes the poll: a
 * trigger). `voter_count` and `tally_version` are kept by the vote triggers
 * (drizzle/0035_poll_survey_triggers.sql); application code never writes them.
 */
export const polls = pgTable(
  'polls',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id')
      .notNull()
      .unique('polls_message_key')
      .references(() => messages.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id),
    question: text('question').notNull(),
    minChoices: integer('min_choices').notNull().default(1),
    maxChoices: integer('max_choices').notNull().default(1),
    anonymous: boolean('anonymous').notNull().default(false),
    resultsVisibility: text('results_visibility', { enum: ['always', 'afterVote', 'afterClose'] }).notNull().default('always'),
    closesAt: timestamp('closes_at', { withTimezone: true }),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    allowVoteChange: boolean('allow_vote_change').notNull().default(true),
    allowAddOptions: boolean('allow_add_options').notNull().default(false),
    quiz: boolean('quiz').notNull().default(false),
    explanation: text('explanation'),
    /** Members who hold at least one vote (trigger). */
    voterCount: integer('voter_count').notNull().default(0),
    /** Bumped by every vote and retraction (trigger); the live-results coalescer compares it. */
    tallyVersion: bigint('tally_version', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('polls_scope_idx').on(t.scopeId),
    index('polls_open_closes_idx').on(t.closesAt).where(sql`${t.closedAt} is null and ${t.closesAt} is not null`),
    index('polls_open_idx').on(t.id).where(sql`${t.closedAt} is null`),
    check('polls_question_len', sql`char_length(${t.question}) between 1 and 300`),
    check('polls_choices', sql`${t.minChoices} >= 1 and ${t.maxChoices} >= ${t.minChoices} and ${t.maxChoices} <= 20`),
    check('polls_visibility', sql`${t.resultsVisibility} in ('always', 'afterVote', 'afterClose')`),
  ],
);

/** The options of a poll, in `position` order. `vote_count` is kept by the vote triggers. */
export const pollOptions = pgTable(
  'poll_options',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    pollId: uuid('poll_id')
      .notNull()
      .references(() => polls.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    text: text('text').notNull(),
    emoji: text('emoji'),
    /** A correct answer of a quiz. */
    correct: boolean('correct').notNull().default(false),
    /** Who added it after creation (allowAddOptions); null for the author's own options. */
    addedBy: uuid('added_by').references(() => users.id),
    voteCount: integer('vote_count').notNull().default(0),
  },
  (t) => [
    unique('poll_options_position_key').on(t.pollId, t.position),
    // The target of poll_votes' (poll_id, option_id) key: a vote for another poll's option cannot exist.
    unique('poll_options_poll_id_key').on(t.pollId, t.id),
    check('poll_options_text_len', sql`char_length(${t.text}) between 1 and 100`),
  ],
);

/**
 * One row per (voter, chosen option). `voter` is the user id as text, or for an anonymous
 * poll an HMAC-SHA256 of (poll, user) under a key kept outside the database, so a dump
 * alone cannot tell who chose what. `voted_at` is null on anonymous polls (no timing to
 * correlate). The triggers refuse votes on closed polls, over `max_choices`, and changes.
 */
export const pollVotes = pgTable(
  'poll_votes',
  {
    pollId: uuid('poll_id').notNull(),
    optionId: uuid('option_id').notNull(),
    voter: text('voter').notNull(),
    votedAt: timestamp('voted_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.pollId, t.voter, t.optionId] }),
    foreignKey({ name: 'poll_votes_option_fk', columns: [t.pollId, t.optionId], foreignColumns: [pollOptions.pollId, pollOptions.id] }).onDelete('cascade'),
    index('poll_votes_option_idx').on(t.optionId, t.votedAt),
  ],
);

/**
 * When live results were last sent for a poll or survey, and the tally they carried: the
 * coalescer's shared state, in a row of its own so that sending never waits on the
 * poll's row (which every vote locks).
 */
export const resultEventMarks = pgTable('result_event_marks', {
  targetId: uuid('target_id').primaryKey(),
  eventVersion: bigint('event_version', { mode: 'number' }).notNull().default(0),
  eventAt: timestamp('event_at', { withTimezone: true }).notNull().default(sql`'-infinity'`),
});

/** Surveys: a message that carries up to 50 questions. `response_count` and `tally_version` are kept by triggers. */
export const surveys = pgTable(
  'surveys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id')
      .notNull()
      .unique('surveys_message_key')
      .references(() => messages.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    anonymous: boolean('anonymous').notNull().default(false),
    resultsVisibility: text('results_visibility', { enum: ['always', 'afterVote', 'afterClose'] }).notNull().default('always'),
    closesAt: timestamp('closes_at', { withTimezone: true }),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    allowEdit: boolean('allow_edit').notNull().default(false),
    responseCount: integer('response_count').notNull().default(0),
    tallyVersion: bigint('tally_version', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('surveys_scope_idx').on(t.scopeId),
    index('surveys_open_closes_idx').on(t.closesAt).where(sql`${t.closedAt} is null and ${t.closesAt} is not null`),
    index('surveys_open_idx').on(t.id).where(sql`${t.closedAt} is null`),
    check('surveys_title_len', sql`char_length(${t.title}) between 1 and 300`),
    check('surveys_visibility', sql`${t.resultsVisibility} in ('always', 'afterVote', 'afterClose')`),
  ],
);

/** The questions of a survey, in `position` order; `config` holds the type's settings (src/surveys/questions.ts). */
export const surveyQuestions = pgTable(
  'survey_questions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    surveyId: uuid('survey_id')
      .notNull()
      .references(() => surveys.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    type: text('type').notNull(),
    prompt: text('prompt').notNull(),
    required: boolean('required').notNull().default(false),
    config: jsonb('config').notNull().default({}),
  },
  (t) => [unique('survey_questions_position_key').on(t.surveyId, t.position)],
);

/**
 * One response per member: `respondent` is the user id, or an HMAC for an anonymous
 * survey (as poll_votes.voter). `answers` maps question id to answer. Timestamps are null
 * on anonymous surveys.
 */
export const surveyResponses = pgTable(
  'survey_responses',
  {
    surveyId: uuid('survey_id')
      .notNull()
      .references(() => surveys.id, { onDelete: 'cascade' }),
    respondent: text('respondent').notNull(),
    answers: jsonb('answers').notNull(),
    submittedAt: timestamp('submitted_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.surveyId, t.respondent] })],
);
