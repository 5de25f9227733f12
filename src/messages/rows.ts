import { asc, getTableColumns, inArray, sql, type SQL } from 'drizzle-orm';
import { messageMentions, messages, reactionCounts } from '../db/schema/index.js';
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
 * Whether `viewerId` reacted with the summary row's emoji: it is among the users shown,
 * or (only when more reacted than are shown) its reaction row exists (a primary-key
 * lookup). False for no viewer. A column expression for a select from `reaction_counts`;
 * list-sql.ts's page statement writes the same test.
 */
export function reactedSql(viewerId: string | null): SQL<boolean> {
  if (viewerId === null) return sql<boolean>`false`;
  // The outer columns are named with their table: drizzle writes a column of a one-table
  // select unqualified, which inside the subquery would mean the `reactions` row's own.
  return sql<boolean>`(${viewerId}::uuid = any (reaction_counts.user_ids) or (reaction_counts.count > cardinality(reaction_counts.user_ids)
    and exists (select 1 from reactions r where r.message_id = reaction_counts.message_id and r.emoji = reaction_counts.emoji and r.user_id = ${viewerId}::uuid)))`;
}

/**
 * Turns message rows into client messages as `viewerId` sees them (`reactions[].me`; null:
 * no one viewer, as in a conversation event, and `me` is false), loading their mentions,
 * reaction summaries (`reaction_counts`, one row per emoji) and attachments in one query
 * each for the whole batch. A deleted message shows an empty body, no mentions and no
 * reactions, whatever is stored.
 */
export async function hydrate(db: Tx, rows: MessageRow[], viewerId: string | null): Promise<Message[]> {
  const live = rows.filter((r) => !r.deletedAt).map((r) => r.id);
  const mentionsOf = new Map<string, MessageMentions>();
  const reactionsOf = new Map<string, ReactionSummary[]>();
  let attachmentsOf = new Map<string, Attachment[]>();
  if (live.length > 0) {
    const [mentionRows, reactionRows, attached] = await Promise.all([
      db.select().from(messageMentions).where(inArray(messageMentions.messageId, live)),
      db
        .select({ messageId: reactionCounts.messageId, emoji: reactionCounts.emoji, count: reactionCounts.count, me: reactedSql(viewerId), userIds: reactionCounts.userIds })
        .from(reactionCounts)
        .where(inArray(reactionCounts.messageId, live))
        .orderBy(asc(reactionCounts.firstAt), asc(reactionCounts.emoji)),
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
    for (const { messageId, ...summary } of reactionRows) {
      let list = reactionsOf.get(messageId);
      if (!list) reactionsOf.set(messageId, (list = []));
      list.push(summary);
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
export async function hydrateOne(db: Tx, row: MessageRow, viewerId: string | null): Promise<Message> {
  return (await hydrate(db, [row], viewerId))[0]!;
}

/**
 * The message as a conversation event carries it to every subscriber: `reactions[].me`
 * false, as `hydrate` gives with no viewer (a subscriber keeps its own `me` from its
 * reads and the reaction events that name its user id).
 */
export function forEveryone(m: Message): Message {
  return m.reactions.some((r) => r.me) ? { ...m, reactions: m.reactions.map((r) => ({ ...r, me: false })) } : m;
}
