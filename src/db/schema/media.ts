import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';
import { messages } from './messages.js';

/** One resized rendition of an image attachment (WebP, never larger than the original). */
export interface StoredVariant {
  /** `160`, `640` or `1280`: the long side it was made for. */
  name: string;
  key: string;
  width: number;
  height: number;
  size: number;
  contentType: string;
}

/**
 * Files and media (src/media). A row is made by `media.createUpload` in `pending`; the
 * pipeline handler claims it (`processing`) and completes it `ready` or `failed`.
 * `purpose` says what it is for: a message (attached by `messages.send`, `message_id`),
 * a user's avatar or a scope's icon (`attached_at` set when it became the current one).
 * `delete_requested_at` marks it for the cleanup job, which deletes its objects and then
 * the row: set by the trigger of drizzle/0036 when its message is deleted, by that of
 * drizzle/0049 when its scope is deleted, and by `users.setAvatar` / `scopes.setIcon` for
 * the image they replace. A row deleted any other way (a cascade) leaves its object keys
 * in `media_object_deletions` (trigger of drizzle/0049).
 */
export const attachments = pgTable(
  'attachments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The conversation it belongs to (null for an avatar). */
    scopeId: uuid('scope_id').references(() => scopes.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['message', 'avatar', 'icon'] }).notNull().default('message'),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'set null' }),
    /** Where the upload lands (`uploads/<id>`); the bucket notification matches this prefix only. */
    key: text('key').notNull(),
    filename: text('filename').notNull(),
    declaredType: text('declared_type').notNull(),
    declaredSize: bigint('declared_size', { mode: 'number' }).notNull(),
    status: text('status', { enum: ['pending', 'processing', 'ready', 'failed'] }).notNull().default('pending'),
    /** Sniffed from the bytes by the pipeline; what downloads are served as. */
    contentType: text('content_type'),
    /** The stored size as the upload's GetObject reported it (bytes). */
    size: bigint('size', { mode: 'number' }),
    /** Images: the object downloads of the full image are served from (re-encoded, no metadata). */
    displayKey: text('display_key'),
    width: integer('width'),
    height: integer('height'),
    animated: boolean('animated').notNull().default(false),
    /** Base64 ThumbHash placeholder (images). */
    thumbhash: text('thumbhash'),
    variants: jsonb('variants').$type<StoredVariant[]>().notNull().default(sql`'[]'::jsonb`),
    failureReason: text('failure_reason'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When the pipeline claimed it; a claim older than the lease may be taken again. */
    claimedAt: timestamp('claimed_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** Avatar or icon: when it became the current one. */
    attachedAt: timestamp('attached_at', { withTimezone: true }),
    deleteRequestedAt: timestamp('delete_requested_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('attachments_key_idx').on(t.key),
    index('attachments_owner_created_idx').on(t.ownerId, t.createdAt),
    index('attachments_message_idx').on(t.messageId),
    index('attachments_scope_idx').on(t.scopeId),
    index('attachments_cleanup_idx').on(t.createdAt).where(sql`${t.messageId} is null and ${t.attachedAt} is null`),
    // The cleanup's "sent but never uploaded" step (src/media/cleanup.ts).
    index('attachments_unsettled_idx').on(t.createdAt).where(sql`${t.status} in ('pending', 'processing')`),
    index('attachments_delete_idx').on(t.deleteRequestedAt).where(sql`${t.deleteRequestedAt} is not null`),
    uniqueIndex('attachments_current_avatar_idx')
      .on(t.ownerId)
      .where(sql`${t.purpose} = 'avatar' and ${t.attachedAt} is not null and ${t.deleteRequestedAt} is null`),
    uniqueIndex('attachments_current_icon_idx')
      .on(t.scopeId)
      .where(sql`${t.purpose} = 'icon' and ${t.attachedAt} is not null and ${t.deleteRequestedAt} is null`),
    check('attachments_scope_for_purpose', sql`(${t.purpose} = 'avatar') = (${t.scopeId} is null)`),
    check('attachments_declared_size', sql`${t.declaredSize} > 0`),
  ],
);

/**
 * Object keys whose attachment rows are gone (removed by a cascade: a scope or user row
 * deleted) while the objects may still be in storage. Filled by the trigger of
 * drizzle/0049; the media cleanup job (src/media/cleanup.ts) deletes the objects, then the
 * rows.
 */
export const mediaObjectDeletions = pgTable('media_object_deletions', {
  key: text('key').primaryKey(),
  queuedAt: timestamp('queued_at', { withTimezone: true }).notNull().defaultNow(),
});
