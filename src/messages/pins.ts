import { and, count, desc, eq, gt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { messages, pins } from '../db/schema/index.js';
import { limits } from '../config.js';
import { invalid } from '../errors.js';
import { Permission } from '../permissions/flags.js';
import type { MessageAccess } from './access.js';
import { toScopeEvent } from './events.js';
import { appendEvent } from './log.js';
import { hydrate, hydrateOne, messageColumns } from './rows.js';
import type { MessageService, MessageWrite } from './service.js';
import type { Pin } from './types.js';

class NoChange extends Error {}

/**
 * Pinned messages: at most `limits.pinsPerScopeMax` per scope (Discord: 50); pinning and
 * unpinning need PinMessages. Pinning a pinned message, or unpinning one that is not,
 * changes nothing and emits nothing. Deleting a message unpins it (MessageService.delete).
 */
export class PinService {
  constructor(
    private readonly db: Db,
    private readonly messages: MessageService,
    private readonly access: MessageAccess,
  ) {}

  /**
   * Pins a message of the scope.
   * @returns the message and the `message.pinned` event (none when it was pinned already).
   * @throws Forbidden without PinMessages; NotFound for a message not in this scope;
   *   Invalid for a deleted message, a thread reply, or a scope at its pin limit.
   */
  async add(userId: string, input: { scopeId: string; messageId: string; floor?: number }): Promise<MessageWrite> {
    return this.change('pin', userId, input);
  }

  /**
   * Unpins a message.
   * @returns the message and the `message.unpinned` event (none when it was not pinned).
   * @throws Forbidden without PinMessages; NotFound for a message not in this scope.
   */
  async remove(userId: string, input: { scopeId: string; messageId: string; floor?: number }): Promise<MessageWrite> {
    return this.change('unpin', userId, input);
  }

  /**
   * The scope's pins, most recently pinned first (at most `limits.pinsPerScopeMax`); with
   * `floor` (history.ts `historyFloor`), only pins of messages after it; as `viewerId` sees
   * them (`reactions[].me`).
   */
  async list(scopeId: string, viewerId: string, floor = 0): Promise<Pin[]> {
    const rows = await this.db
      .select({ pin: pins, message: messageColumns })
      .from(pins)
      .innerJoin(messages, eq(messages.id, pins.messageId))
      .where(and(eq(pins.scopeId, scopeId), floor > 0 ? gt(messages.seq, floor) : undefined))
      .orderBy(desc(pins.pinnedAt), desc(pins.messageId));
    const hydrated = await hydrate(this.db, rows.map((r) => r.message), viewerId);
    return rows.map((r, i) => ({ message: hydrated[i]!, pinnedBy: r.pin.pinnedBy, pinnedAt: r.pin.pinnedAt }));
  }

  private async change(op: 'pin' | 'unpin', userId: string, input: { scopeId: string; messageId: string; floor?: number }): Promise<MessageWrite> {
    await this.access.require(userId, input.scopeId, Permission.PinMessages);
    // A message at or before the caller's history floor (history.ts) is as absent as to every read.
    const msg = await this.messages.row(this.db, input.scopeId, input.messageId, false, input.floor ?? 0);
    const where = and(eq(pins.scopeId, input.scopeId), eq(pins.messageId, msg.id));
    const pinned = async (db: Pick<Db, 'select'>) => (await db.select().from(pins).where(where).limit(1)).length > 0;
    if ((await pinned(this.db)) === (op === 'pin')) return { message: await hydrateOne(this.db, msg, userId), events: [] };
    if (op === 'pin' && msg.deletedAt) throw invalid('this message was deleted');
    try {
      return await this.db.transaction(async (tx) => {
        // The event first: its seq trigger takes the scope row lock, so the pin count and
        // the checks below cannot race another pin of this scope.
        const ev = await appendEvent(tx, {
          scopeId: input.scopeId,
          type: op === 'pin' ? 'message.pinned' : 'message.unpinned',
          actorId: userId,
          messageId: msg.id,
          payload: { messageId: msg.id },
        });
        if ((await pinned(tx)) === (op === 'pin')) throw new NoChange();
        const locked = await this.messages.row(tx, input.scopeId, msg.id);
        if (op === 'pin') {
          if (locked.deletedAt) throw invalid('this message was deleted');
          const [{ n } = { n: 0 }] = await tx.select({ n: count() }).from(pins).where(eq(pins.scopeId, input.scopeId));
          if (n >= limits.pinsPerScopeMax) {
            throw invalid(`a scope holds at most ${limits.pinsPerScopeMax} pins; unpin one first`);
          }
          await tx.insert(pins).values({ scopeId: input.scopeId, messageId: msg.id, pinnedBy: userId });
        } else {
          await tx.delete(pins).where(where);
        }
        return { message: await hydrateOne(tx, locked, userId), events: [{ ...toScopeEvent(ev, null), messageSeq: locked.seq }] };
      });
    } catch (err) {
      if (err instanceof NoChange) return { message: await this.messages.get(input.scopeId, msg.id, userId), events: [] };
      throw err;
    }
  }
}
