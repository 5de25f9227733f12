import { and, eq, inArray, isNull } from 'drizzle-orm';
import { attachments } from '../db/schema/index.js';
import { invalid } from '../errors.js';
import type { Tx } from '../messages/log.js';

/**
 * Attaches uploads to a new message inside the send's transaction (Slack's "complete
 * upload" step folded into the send). Each id must be the author's, made for this scope
 * for a message, not yet attached and not expired: pending, ready, or failed (sent and
 * shown failed with its reason, as one that fails after the send). The rows are locked,
 * so two sends racing for one upload cannot both take it.
 * @throws Invalid naming the first id that cannot be attached, and why.
 */
export async function attachToMessage(tx: Tx, input: { authorId: string; scopeId: string; messageId: string; attachmentIds: readonly string[] }): Promise<void> {
  const ids = [...new Set(input.attachmentIds)];
  if (ids.length !== input.attachmentIds.length) throw invalid('attachmentIds lists an attachment twice');
  const rows = await tx
    .select()
    .from(attachments)
    .where(inArray(attachments.id, ids))
    .for('update');
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of ids) {
    const r = byId.get(id);
    // Someone else's upload is reported like a missing one: ids are not an oracle.
    if (!r || r.ownerId !== input.authorId || r.deleteRequestedAt) throw invalid(`attachment ${id} is not an upload of yours (or it has expired): attach only files you uploaded with media.createUpload`);
    if (r.purpose !== 'message' || r.scopeId !== input.scopeId) throw invalid(`attachment ${id} was uploaded for another scope or purpose; upload it to this scope`);
    if (r.messageId) throw invalid(`attachment ${id} is already attached to a message; upload it again to send it twice`);
    // A file that already failed is sent as one that fails later would be: shown failed, with
    // its reason (the outcome must not depend on whether processing beat the send).
  }
  await tx
    .update(attachments)
    .set({ messageId: input.messageId })
    .where(and(inArray(attachments.id, ids), isNull(attachments.messageId), eq(attachments.ownerId, input.authorId)));
}
