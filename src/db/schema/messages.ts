import { sql } from 'drizzle-orm';
import {
  bigint,
  customType,
  index,
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

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * Messages of every conversation. `seq` is the seq of the `message.created` event that
 * announced it; `(author_id, nonce)` is unique so a retried send returns the original.
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
    replyToId: uuid('reply_to_id'),
    threadRootId: uuid('thread_root_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    editedAt: timestamp('edited_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    search: tsvector('search').generatedAlwaysAs(sql`to_tsvector('simple', coalesce(body, ''))`),
  },
  (t) => [
    unique('messages_scope_seq_key').on(t.scopeId, t.seq),
    unique('messages_author_nonce_key').on(t.authorId, t.nonce),
    index('messages_search_idx').using('gin', t.search),
  ],
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
