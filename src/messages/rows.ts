import { asc, getTableColumns, inArray } from 'drizzle-orm';
import { messageMentions, messages, reactions } from '../db/schema/index.js';
import type { Tx } from './log.js';
import { noMentions } from './mentions.js';
import type { Message, MessageMentions, ReactionSummary } from './types.js';
import { attachmentsOfMessages } from '../media/views.js';
import type { Attachment } from '../media/types.js';

const { search: _search, hasMentions: _m, hasReactions: _r, hasAttachments: _a, ...messageColumnsWithoutSearch } = getTableColumns(messages);

/**
 * The columns of `messages` a read needs: all but the generated `search` tsvector, which
 * only the search query's WHERE uses (fetching it cost bytes and parsing on every page),
 * and the hints only the page statement reads (list-sql.ts).
 */
export const messageColumns = messageColumnsWithoutSearch;

/** A `messages` row as reads fetch it (`messageColumns`). */
export type MessageRow = Omit<typeof messages.$inferSelect, 'search' | 'hasMentions' | 'hasReactions' | 'hasAttachments'>;

/**
 * Turns message rows into client messages, loading their mentions and reactions in two
 * queries for the whole batch. A deleted message shows an empty body, no mentions and no
 * reactions, whatever is stored.
 */
export async function hydrate(db: Tx, rows: MessageRow[]): Promise<Message[]> {
  const live = rows.filter((r) => !r.deletedAt).map((r) => r.id);
  const mentionsOf = new Map<string, MessageMentions>();
  const reactionsOf = new Map<string, ReactionSummary[]>();
  let attachmentsOf = new Map<string, Attachment[]>();
  if (live.length > 0) {
    const [mentionRows, reactionRows, attached] = await Promise.all([
      db.select().from(messageMentions).where(inArray(messageMentions.messageId, live)),
      db
        .select({ messageId: reactions.messageId, emoji: reactions.emoji, userId: reactions.userId })
        .from(reactions)
        .where(inArray(reactions.messageId, live))
        .orderBy(asc(reactions.createdAt), asc(reactions.emoji), asc(reactions.userId)),
      attachmentsOfMessages(db, live),
    ]);
    attachmentsOf = attached;
    for (const m of mentionRows) {
      let entry = mentionsOf.get(m.messageId);
      if (!entry) mentionsOf.set(m.messageId, (entry = noMentions()));
      (m.kind === 'user' ? entry.userIds : entry.roleIds).push(m.targetId);
    }
    for (const entry of mentionsOf.values()) {
      entry.userIds.sort();
      entry.roleIds.sort();
    }
    for (const r of reactionRows) {
      let list = reactionsOf.get(r.messageId);
      if (!list) reactionsOf.set(r.messageId, (list = []));
      let summary = list.find((s) => s.emoji === r.emoji);
      if (!summary) list.push((summary = { emoji: r.emoji, count: 0, userIds: [] }));
      summary.userIds.push(r.userId);
      summary.count++;
    }
  }
  return rows.map((r) => toMessage(r, mentionsOf.get(r.id), reactionsOf.get(r.id), attachmentsOf.get(r.id)));
}

/**
 * The client message of a row and what was loaded with it (absent: none). A deleted
 * message shows an empty body, no mentions, no reactions and no attachments, whatever is
 * passed; `mentions.everyone` comes from the row.
 */
export function toMessage(r: MessageRow, mentions: MessageMentions | undefined, reactions: ReactionSummary[] | undefined, attachments: Attachment[] | undefined): Message {
  const deleted = !!r.deletedAt;
  const m = deleted ? noMentions() : (mentions ?? noMentions());
  if (!deleted) m.everyone = r.mentionEveryone;
  return {
    id: r.id,
    scopeId: r.scopeId,
    seq: r.seq,
    authorId: r.authorId,
    body: deleted ? '' : r.body,
    nonce: r.nonce,
    createdAt: r.createdAt,
    replyToId: r.replyToId,
    threadRootId: r.threadRootId,
    threadReplyCount: r.threadReplyCount,
    editedAt: r.editedAt,
    deletedAt: r.deletedAt,
    mentions: m,
    reactions: deleted ? [] : (reactions ?? []),
    attachments: deleted ? [] : (attachments ?? []),
  };
}

/** `hydrate` for one row. */
export async function hydrateOne(db: Tx, row: MessageRow): Promise<Message> {
  return (await hydrate(db, [row]))[0]!;
}
