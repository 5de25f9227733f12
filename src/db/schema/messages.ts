import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * Messages of every conversation. `seq` is the seq of the `message.created` event that
 * announced it; `(author_id, nonce)` is unique so a retried send returns the original.
 *
 * Threads are one level deep (as in Slack and Matrix): `thread_root_id` points at a
 * message of the main timeline; `thread_reply_count` on the root is kept by a trigger.
 * A soft delete sets `deleted_at` and empties `body` (so the generated `search` vector is
 * empty too). Search uses the 'simple' text search configuration on purpose: chat is
 * multilingual, and English stemming and stop words would mangle other languages and drop
 * short words people do search for; the query side uses the same configuration.
 */
export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey(),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    authorId: uuid('author_id')
      .notNull()
      .references(() => users.id),
    body: text('body').notNull(),
    nonce: text('nonce'),
    replyToId: uuid('reply_to_id').references((): AnyPgColumn => messages.id, { onDelete: 'set null' }),
    threadRootId: uuid('thread_root_id').references((): AnyPgColumn => messages.id, { onDelete: 'cascade' }),
    /** The body mentions `@everyone` (and the author held the flag for it). */
    mentionEveryone: boolean('mention_everyone').notNull().default(false),
    /** Replies in the thread this message roots (not deleted); kept by a trigger. */
    threadReplyCount: integer('thread_reply_count').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    editedAt: timestamp('edited_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    search: tsvector('search').generatedAlwaysAs(sql`to_tsvector('simple', coalesce(body, ''))`),
    /**
     * Hints for the history page (src/messages/list-sql.ts): the message may have
     * mentions, reactions, attachments. Set to true by triggers on the child tables in the
     * transaction that writes the child row, never back to false (drizzle/0050): true may
     * be stale (the rows were removed), false never is. Not part of a message's output.
     */
    hasMentions: boolean('has_mentions').notNull().default(false),
    hasReactions: boolean('has_reactions').notNull().default(false),
    hasAttachments: boolean('has_attachments').notNull().default(false),
  },
  (t) => [
    unique('messages_scope_seq_key').on(t.scopeId, t.seq),
    unique('messages_author_nonce_key').on(t.authorId, t.nonce),
    index('messages_search_idx').using('gin', t.search),
    index('messages_thread_idx').on(t.threadRootId, t.seq),
    // Read-time corrections of the read marks (drizzle/0032_read_state_counters.sql).
    index('messages_deleted_seq_idx').on(t.scopeId, t.seq).where(sql`${t.deletedAt} is not null`),
    index('messages_everyone_seq_idx').on(t.scopeId, t.seq).where(sql`${t.mentionEveryone} and ${t.deletedAt} is null`),
  ],
);

/**
 * Earlier versions of edited messages: one row per edit, holding the body as it was
 * before that edit and when it was replaced. Deleting the message removes them.
 */
export const messageEdits = pgTable(
  'message_edits',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    /** 1 for the first edit, 2 for the next… */
    version: integer('version').notNull(),
    previousBody: text('previous_body').notNull(),
    replacedAt: timestamp('replaced_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.version] })],
);

/**
 * Who a message mentions, parsed from its body: `<@userId>` (kind 'user') and
 * `<@&roleId>` (kind 'role'). `@everyone` is `messages.mention_everyone`. The mention
 * counters of read_marks follow these rows (trigger).
 */
export const messageMentions = pgTable(
  'message_mentions',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['user', 'role'] }).notNull(),
    targetId: uuid('target_id').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.kind, t.targetId] }),
    index('message_mentions_target_idx').on(t.targetId, t.kind),
    check('message_mentions_kind_check', sql`${t.kind} in ('user', 'role')`),
  ],
);

/** One user's reaction with one emoji on one message. */
export const reactions = pgTable(
  'reactions',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    emoji: text('emoji').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.emoji, t.userId] }),
    // The first users of an emoji in order (the summary trigger's preview and first_at).
    index('reactions_order_idx').on(t.messageId, t.emoji, t.createdAt, t.userId),
  ],
);

/**
 * One emoji's reactions on one message, summed up: kept by a trigger on `reactions`
 * (drizzle/0052_reaction_counts.sql) for every insert, delete and update there, so reads
 * show counts without reading one row per reaction. A row exists while `count > 0`.
 */
export const reactionCounts = pgTable(
  'reaction_counts',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    emoji: text('emoji').notNull(),
    /** Users who reacted with this emoji. */
    count: integer('count').notNull(),
    /** The earliest `created_at` among them: the emoji's place in the message's list. */
    firstAt: timestamp('first_at', { withTimezone: true }).notNull(),
    /** The first `limits.reactionUsersShown` of them by (created_at, user_id). */
    userIds: uuid('user_ids').array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.emoji] }), check('reaction_counts_count_check', sql`${t.count} > 0`)],
);

/** Pinned messages of a scope. */
export const pins = pgTable(
  'pins',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    pinnedBy: uuid('pinned_by').references(() => users.id, { onDelete: 'set null' }),
    pinnedAt: timestamp('pinned_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.scopeId, t.messageId] })],
);

/**
 * The ordered log of everything visible that happened in a conversation. `seq` is
 * assigned by the trigger in drizzle/0002_scope_event_seq_trigger.sql: gapless per
 * scope, in commit order. `message_id` points at the message an event is about, so a
 * replay shows the message as it is now (a deleted body stays gone).
 */
export const scopeEvents = pgTable(
  'scope_events',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    actorId: uuid('actor_id'),
    messageId: uuid('message_id'),
    payload: jsonb('payload').notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.scopeId, t.seq] })],
);
