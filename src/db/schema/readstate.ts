import { bigint, index, integer, pgTable, pgView, primaryKey, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';

/**
 * The read mark of each member in each scope (Mattermost's model, see docs/architecture.md
 * "Read state and unread counts"). A send writes O(1) rows whatever the member count:
 * - `seen_count`: `scopes.message_total` when the mark was set, i.e. the messages (live or
 *   deleted, any author) with seq <= last_read_seq;
 * - `mention_count`: live messages after the mark that mention this user directly and
 *   not @everyone, kept by triggers for the mentioned users only.
 * Unread and @everyone counts are derived on read by the `read_states` view
 * (drizzle/0032_read_state_counters.sql). A row exists exactly while the membership does.
 */
export const readMarks = pgTable(
  'read_marks',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull().default(0),
    seenCount: bigint('seen_count', { mode: 'number' }).notNull().default(0),
    mentionCount: integer('mention_count').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.scopeId, t.userId] }), index('read_marks_user_idx').on(t.userId)],
);

/**
 * What readers see (the `read_states` view, drizzle/0032_read_state_counters.sql), one row
 * per read mark:
 * - `unread_count`: messages with seq > last_read_seq, not by this user, not deleted;
 * - `mention_count`: those of them that mention this user directly (`<@userId>`) or
 *   through @everyone. Role mentions are stored but not counted yet.
 */
export const readStates = pgView('read_states', {
  scopeId: uuid('scope_id').notNull(),
  userId: uuid('user_id').notNull(),
  lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull(),
  unreadCount: integer('unread_count').notNull(),
  mentionCount: integer('mention_count').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
}).existing();
