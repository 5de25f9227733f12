import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { reactionCounts, reactions } from '../db/schema/index.js';
import { limits } from '../config.js';
import { invalid } from '../errors.js';
import { Permission } from '../permissions/flags.js';
import type { MessageAccess } from './access.js';
import { toScopeEvent } from './events.js';
import { canonicalEmoji, EMOJI_RULE } from './emoji.js';
import { appendEvent, lockScope } from './log.js';
import { hydrateOne } from './rows.js';
import type { MessageService, MessageWrite } from './service.js';
import type { ReactionUserPage } from './types.js';

/**
 * The stored form of an emoji (emoji.ts `canonicalEmoji`).
 * @throws Invalid for a string that is no emoji (the router's schema refuses it first).
 */
function storedEmoji(e: string): string {
  const stored = canonicalEmoji(e);
  if (stored === null) throw invalid(EMOJI_RULE);
  return stored;
}

/** Thrown inside a transaction to roll it back when a concurrent write made it a no-op. */
class NoChange extends Error {}

/**
 * Reactions: a set of users per emoji on a message, at most `limits.reactionsPerMessageMax`
 * distinct emoji per message (Discord's limit). Adding twice or removing what is not
 * there changes nothing and emits nothing. Reads show each emoji's summary (its
 * `reaction_counts` row, kept by the trigger of drizzle/0052: count, first users) and
 * `users` pages through everyone.
 */
export class ReactionService {
  constructor(
    private readonly db: Db,
    private readonly messages: MessageService,
    private readonly access: MessageAccess,
  ) {}

  /**
   * Adds `userId`'s reaction `emoji` to a message.
   * @returns the message as it is now and the `reaction.added` event (none when it was there).
   * @throws NotFound for a message not in this scope; Invalid for a deleted message or a
   *   new emoji past the limit; Forbidden without AddReactions.
   */
  async add(userId: string, input: { scopeId: string; messageId: string; emoji: string; floor?: number }): Promise<MessageWrite> {
    await this.access.require(userId, input.scopeId, Permission.AddReactions);
    return this.change('add', userId, { ...input, emoji: storedEmoji(input.emoji) });
  }

  /**
   * Removes `userId`'s reaction `emoji` from a message.
   * @returns the message and the `reaction.removed` event (none when it was not there).
   * @throws NotFound for a message not in this scope; Invalid for a deleted message.
   */
  async remove(userId: string, input: { scopeId: string; messageId: string; emoji: string; floor?: number }): Promise<MessageWrite> {
    return this.change('remove', userId, { ...input, emoji: storedEmoji(input.emoji) });
  }

  private async change(op: 'add' | 'remove', userId: string, input: { scopeId: string; messageId: string; emoji: string; floor?: number }): Promise<MessageWrite> {
    // A message at or before the caller's history floor (history.ts) is as absent as to every read.
    const msg = await this.messages.row(this.db, input.scopeId, input.messageId, false, input.floor ?? 0);
    if (msg.deletedAt) throw invalid('this message was deleted');
    const mine = and(eq(reactions.messageId, msg.id), eq(reactions.emoji, input.emoji), eq(reactions.userId, userId));
    const present = async (db: Pick<Db, 'select'>) => (await db.select().from(reactions).where(mine).limit(1)).length > 0;
    if ((await present(this.db)) === (op === 'add')) return { message: await hydrateOne(this.db, msg, userId), events: [] };
    try {
      return await this.db.transaction(async (tx) => {
        // The scope first, as the seq trigger takes it: it serialises this with every other
        // write to the scope, so what is read below is settled and the event can say the
        // count after the change.
        await lockScope(tx, input.scopeId);
        const locked = await this.messages.row(tx, input.scopeId, msg.id, true);
        if (locked.deletedAt) throw invalid('this message was deleted');
        if ((await present(tx)) === (op === 'add')) throw new NoChange();
        const [state] = await tx
          .select({
            emojis: sql<number>`count(*)::int`,
            count: sql<number>`coalesce(max(${reactionCounts.count}) filter (where ${reactionCounts.emoji} = ${input.emoji}), 0)::int`,
          })
          .from(reactionCounts)
          .where(eq(reactionCounts.messageId, msg.id));
        const { emojis, count } = state ?? { emojis: 0, count: 0 };
        if (op === 'add' && count === 0 && emojis >= limits.reactionsPerMessageMax) {
          throw invalid(`a message holds at most ${limits.reactionsPerMessageMax} different reactions; react with one already there`);
        }
        const ev = await appendEvent(tx, {
          scopeId: input.scopeId,
          type: op === 'add' ? 'reaction.added' : 'reaction.removed',
          actorId: userId,
          messageId: msg.id,
          payload: { messageId: msg.id, emoji: input.emoji, userId, count: count + (op === 'add' ? 1 : -1) },
        });
        if (op === 'add') await tx.insert(reactions).values({ messageId: msg.id, emoji: input.emoji, userId });
        else await tx.delete(reactions).where(mine);
        return { message: await hydrateOne(tx, locked, userId), events: [{ ...toScopeEvent(ev, null), messageSeq: locked.seq }] };
      });
    } catch (err) {
      if (err instanceof NoChange) return { message: await this.messages.get(input.scopeId, msg.id, userId), events: [] };
      throw err;
    }
  }

  /**
   * The users who reacted with `emoji` on a message, in user-id order (Discord's
   * `GET …/reactions/{emoji}`), `limit` per page after `cursor` (the last user id of the
   * previous page). A deleted message has none. It checks no permission itself (the
   * router checks ReadHistory and the history floor).
   * @throws NotFound for a message not in this scope, or at or before `floor`.
   */
  async users(input: { scopeId: string; messageId: string; emoji: string; cursor?: string; limit: number; floor?: number }): Promise<ReactionUserPage> {
    const msg = await this.messages.row(this.db, input.scopeId, input.messageId, false, input.floor ?? 0);
    if (msg.deletedAt) return { items: [], nextCursor: null };
    const rows = await this.db
      .select({ userId: reactions.userId, reactedAt: reactions.createdAt })
      .from(reactions)
      .where(and(eq(reactions.messageId, msg.id), eq(reactions.emoji, storedEmoji(input.emoji)), input.cursor ? gt(reactions.userId, input.cursor) : undefined))
      .orderBy(asc(reactions.userId))
      .limit(input.limit + 1);
    const items = rows.slice(0, input.limit);
    return { items, nextCursor: rows.length > input.limit ? items.at(-1)!.userId : null };
  }
}
