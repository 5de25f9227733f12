import { bigint, index, integer, pgTable, primaryKey, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';

/**
 * Where each member has read up to in each scope, with counters kept by triggers
 * (drizzle/*_read_state_trigger.sql), never by scanning history:
 * - `unread_count`: messages with seq > last_read_seq, not by this user, not deleted;
 * - `mention_count`: those of them that mention this user directly (`<@userId>`) or
 *   through @everyone. Role mentions are stored but not counted yet.
 * A row exists exactly while the membership does (trigger on memberships).
 */
export const readStates = pgTable(
  'read_states',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull().default(0),
    unreadCount: integer('unread_count').notNull().default(0),
    mentionCount: integer('mention_count').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.scopeId, t.userId] }), index('read_states_user_idx').on(t.userId)],
);
