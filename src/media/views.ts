import { and, asc, inArray, isNull } from 'drizzle-orm';
import { attachments } from '../db/schema/index.js';
import type { Tx } from '../messages/log.js';
import { isImageType, type VariantName } from './rules.js';
import type { Attachment } from './types.js';

/** An `attachments` row as drizzle reads it. */
export type AttachmentRow = typeof attachments.$inferSelect;

/** The columns `toAttachment` reads (a row, or the JSON object of a read that aggregates them, such as messages/list-sql.ts). */
export type AttachmentFields = Pick<
  AttachmentRow,
  | 'id' | 'purpose' | 'scopeId' | 'messageId' | 'ownerId' | 'filename' | 'contentType' | 'declaredType' | 'size' | 'declaredSize'
  | 'status' | 'failureReason' | 'displayKey' | 'width' | 'height' | 'animated' | 'thumbhash' | 'variants' | 'createdAt'
>;

/** The client view of a row: ids and metadata, no keys, no URLs. */
export function toAttachment(r: AttachmentFields): Attachment {
  const ready = r.status === 'ready';
  return {
    id: r.id,
    purpose: r.purpose,
    scopeId: r.scopeId,
    messageId: r.messageId,
    ownerId: r.ownerId,
    filename: r.filename,
    contentType: r.contentType ?? r.declaredType,
    size: r.size ?? r.declaredSize,
    status: r.status === 'processing' ? 'pending' : r.status,
    failureReason: r.failureReason,
    isImage: ready ? r.displayKey !== null : isImageType(r.declaredType),
    width: r.width,
    height: r.height,
    animated: r.animated,
    thumbhash: r.thumbhash,
    variants: r.variants.map((v) => ({ name: v.name as VariantName, width: v.width, height: v.height, size: v.size })),
    createdAt: r.createdAt,
  };
}

/**
 * The attachments of each message (oldest first), for message payloads; those marked
 * for deletion are left out. One query for the whole batch.
 */
export async function attachmentsOfMessages(db: Tx, messageIds: readonly string[]): Promise<Map<string, Attachment[]>> {
  const out = new Map<string, Attachment[]>();
  if (messageIds.length === 0) return out;
  const rows = await db
    .select()
    .from(attachments)
    .where(and(inArray(attachments.messageId, [...messageIds]), isNull(attachments.deleteRequestedAt)))
    .orderBy(asc(attachments.createdAt), asc(attachments.id));
  for (const r of rows) {
    let list = out.get(r.messageId!);
    if (!list) out.set(r.messageId!, (list = []));
    list.push(toAttachment(r));
  }
  return out;
}
