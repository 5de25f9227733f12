import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { users } from './auth.js';

/**
 * The whole hierarchy in one table: community → group → (sub)group → room, and dms.
 * `path` (ancestor ids, root first) and `depth` are kept by a trigger
 * (drizzle/0001_scope_path_trigger.sql). Every scope is also a conversation:
 * `last_seq` is the seq of its latest `scope_events` row.
 */
export const scopes = pgTable(
  'scopes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: ['community', 'group', 'room', 'dm'] }).notNull(),
    parentId: uuid('parent_id').references((): AnyPgColumn => scopes.id),
    path: uuid('path').array().notNull().default(sql`'{}'::uuid[]`),
    depth: integer('depth').notNull().default(0),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    visibility: text('visibility', { enum: ['public', 'private', 'secret'] }).notNull().default('public'),
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    lastMessageAt: timestamp('last_message_at', { withTimezone: true }),
    messageCount: bigint('message_count', { mode: 'number' }).notNull().default(0),
    /** Messages ever inserted here, live or deleted (never decreases): the read marks' scale. */
    messageTotal: bigint('message_total', { mode: 'number' }).notNull().default(0),
    /** The seq of the newest message inserted with @everyone (0: none), to skip counting them. */
    lastEveryoneSeq: bigint('last_everyone_seq', { mode: 'number' }).notNull().default(0),
    /** Bumped by trigger on every change that can alter permissions under this root. */
    permVersion: bigint('perm_version', { mode: 'number' }).notNull().default(0),
    /** Free-form client settings of the scope (flat map of small values; bounds in `limits`). */
    settings: jsonb('settings').$type<Record<string, string | number | boolean | null>>().notNull().default(sql`'{}'::jsonb`),
    /** One-to-one DMs only: the two user ids sorted and joined by ':', so a pair has one DM. */
    dmKey: text('dm_key'),
    /**
     * What members see of the conversation (Matrix's history_visibility): `shared`, all of
     * it; `joined`, only what came after their member.joined (`memberships.joined_seq`).
     */
    historyVisibility: text('history_visibility', { enum: ['shared', 'joined'] }).notNull().default('shared'),
  },
  (t) => [
    uniqueIndex('scopes_dm_key_idx').on(t.dmKey),
    index('scopes_parent_idx').on(t.parentId),
    index('scopes_path_idx').using('gin', t.path),
    check('scopes_name_len', sql`char_length(${t.name}) between 1 and 100`),
  ],
);

/**
 * Explicit membership per scope. Joining a child requires membership of its parent;
 * removing one removes the memberships below it (trigger).
 */
export const memberships = pgTable(
  'memberships',
  {
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    isOwner: boolean('is_owner').notNull().default(false),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
    /** Flags an owner gave this member at this scope ("member grant"); applies like a role defined here. */
    grantedPermissions: bigint('granted_permissions', { mode: 'bigint' }).notNull().default(sql`0`),
    /** While in the future the member keeps only View and ReadHistory here and below. */
    timedOutUntil: timestamp('timed_out_until', { withTimezone: true }),
    /** seq of this membership's member.joined event (0 for memberships made without one). */
    joinedSeq: bigint('joined_seq', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.scopeId, t.userId] }), index('memberships_user_idx').on(t.userId)],
);
