import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, lt, lte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgErrorCode } from '../db/client.js';
import { messages, scopeEvents } from '../db/schema/index.js';
import { conflict, invalid } from '../errors.js';
import { toScopeEvent, type ScopeEvent } from './events.js';
import { appendEvent } from './log.js';
import type { Message, MessagePage } from './types.js';

type MessageRow = typeof messages.$inferSelect;

function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    scopeId: r.scopeId,
    seq: r.seq,
    authorId: r.authorId,
    body: r.deletedAt ? '' : r.body,
    nonce: r.nonce,
    createdAt: r.createdAt,
  };
}

/**
 * Messages and the conversation's event log. A send writes the message and its
 * `message.created` event in one transaction; the seq trigger numbers the event, and
 * the message takes the same seq. Publishing is the caller's job, after commit.
 */
export class MessageService {
  constructor(private readonly db: Db) {}

  /**
   * Sends a message. With a `nonce`, a retried send (even concurrent, through another
   * instance) returns the original message and writes nothing.
   * @returns the message and, when this call created it, its event (null for a retry).
   * @throws Invalid for a blank body; Conflict when the nonce was used for another scope.
   */
  async send(
    authorId: string,
    input: { scopeId: string; body: string; nonce?: string | undefined },
  ): Promise<{ message: Message; event: ScopeEvent | null }> {
    if (input.body.trim() === '') throw invalid('body must contain some text');
    const nonce = input.nonce ?? null;
    if (nonce) {
      const original = await this.byNonce(authorId, nonce);
      if (original) return { message: this.checkRetry(original, input.scopeId), event: null };
    }
    const id = randomUUID();
    try {
      return await this.db.transaction(async (tx) => {
        const ev = await appendEvent(tx, { scopeId: input.scopeId, type: 'message.created', actorId: authorId, messageId: id });
        const [row] = await tx
          .insert(messages)
          .values({ id, scopeId: input.scopeId, seq: ev.seq, authorId, body: input.body, nonce })
          .returning();
        const message = toMessage(row!);
        return { message, event: toScopeEvent(ev, message) };
      });
    } catch (err) {
      if (nonce && pgErrorCode(err) === '23505') {
        const original = await this.byNonce(authorId, nonce);
        if (original) return { message: this.checkRetry(original, input.scopeId), event: null };
      }
      throw err;
    }
  }

  /**
   * History, newest first, keyset-paged on seq.
   * @param beforeSeq only messages with seq below it (omit for the newest).
   * @param limit 1 to 100.
   */
  async list(scopeId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.scopeId, scopeId), beforeSeq !== undefined ? lt(messages.seq, beforeSeq) : undefined))
      .orderBy(desc(messages.seq))
      .limit(limit + 1);
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(toMessage);
    return { items, nextBeforeSeq: more ? items[items.length - 1]!.seq : null };
  }

  /**
   * Events of a scope with `afterSeq < seq ≤ uptoSeq`, oldest first, at most `limit`.
   * Message events show the message as it is now.
   */
  async eventsAfter(scopeId: string, afterSeq: number, limit: number, uptoSeq?: number): Promise<ScopeEvent[]> {
    const rows = await this.db
      .select({ event: scopeEvents, message: messages })
      .from(scopeEvents)
      .leftJoin(messages, eq(messages.id, scopeEvents.messageId))
      .where(
        and(
          eq(scopeEvents.scopeId, scopeId),
          gt(scopeEvents.seq, afterSeq),
          uptoSeq !== undefined ? lte(scopeEvents.seq, uptoSeq) : undefined,
        ),
      )
      .orderBy(asc(scopeEvents.seq))
      .limit(limit);
    return rows.map((r) => toScopeEvent(r.event, r.message ? toMessage(r.message) : null));
  }

  private async byNonce(authorId: string, nonce: string): Promise<MessageRow | null> {
    const [row] = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.authorId, authorId), eq(messages.nonce, nonce)))
      .limit(1);
    return row ?? null;
  }

  private checkRetry(original: MessageRow, scopeId: string): Message {
    if (original.scopeId !== scopeId) {
      throw conflict('this nonce was already used for a message in another scope; use a new nonce per message');
    }
    return toMessage(original);
  }
}
