import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, isNull, lte, max, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { pgConstraint, pgErrorCode } from '../db/client.js';
import { messageEdits, messageMentions, messages, pins, reactions, scopeEvents, scopes } from '../db/schema/index.js';
import { limits } from '../config.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import type { RateLimit } from '../infra/ratelimit.js';
import type { AccessStamp } from '../permissions/service.js';
import { Permission } from '../permissions/flags.js';
import { viewableScopesUnder, type MessageAccess } from './access.js';
import { toScopeEvent, type ScopeEvent } from './events.js';
import { appendEvent, type Tx } from './log.js';
import { mentionCount, parseMentions } from './mentions.js';
import { forEveryone, hydrate, hydrateOne, messageColumns, type MessageRow } from './rows.js';
import { insertMessage, type SendResult } from './send-sql.js';
import { listWindows } from './list-sql.js';
import { pageShape, type ListCursor } from './page-shape.js';
import { attachToMessage } from '../media/attach.js';
import type { Message, MessageMentions, MessagePage, MessageVersion, SearchPage, ThreadPage } from './types.js';

/** What a write returns: the message as it is now and the events to publish after commit, in order. */
export interface MessageWrite {
  message: Message;
  events: ScopeEvent[];
}

/** Runs of the plain send's statement under a version condition before a send whose access keeps changing writes after a fresh check alone. */
const STALE_ATTEMPTS = 4;
/** The last microsecond of 9999-12-31 UTC: a search cursor past it cannot be a message time. */
const MAX_CURSOR_US = 253_402_300_799_999_999n;

/**
 * Messages and the conversation's event log. Every write appends its events with
 * `appendEvent` first, in the same transaction: the seq trigger then holds the scope row
 * lock, so writes to one scope are serialised and every later check in the transaction
 * sees a settled state. Publishing is the caller's job, after commit.
 */
export class MessageService {
  constructor(
    private readonly db: Db,
    private readonly access: MessageAccess,
    private readonly sendRate: RateLimit,
  ) {}

  /**
   * Sends a message. With a `nonce`, a retried send (even concurrent, through another
   * instance) returns the original message, writes nothing and takes no rate point.
   * Mentions (`<@userId>`, `<@&roleId>`, `@everyone`) are parsed and stored.
   * Threads are one level deep, as in Slack and Matrix: `threadRootId` must be a live
   * message of the main timeline of this scope; `replyToId` must be a live message of the
   * same timeline (the same thread, or the main timeline).
   * @returns the message and, when this call created it, its `message.created` event.
   * @throws Invalid for a blank body, too many mentions, a deleted or wrong-timeline
   *   target, a thread root that is itself a reply; NotFound for a target not in this
   *   scope; Forbidden for @everyone without MentionEveryone; RateLimited past
   *   `limits.messageSendRate`; Conflict when the nonce was used for another scope.
   * @param carry runs in the send's transaction once the message row exists (a poll or
   *   survey the message carries); the events it returns follow `message.created`. Not
   *   called for a retried nonce.
   */
  async send(
    authorId: string,
    input: { scopeId: string; body: string; nonce?: string | undefined; replyToId?: string | undefined; threadRootId?: string | undefined; attachmentIds?: readonly string[] | undefined },
    carry?: (tx: Tx, message: Message) => Promise<ScopeEvent[]>,
  ): Promise<MessageWrite> {
    if (input.body.trim() === '' && !input.attachmentIds?.length) throw invalid('body must contain some text (or the message must carry attachments)');
    const nonce = input.nonce ?? null;
    // Replies, thread replies, messages with attachments and carried content (polls, surveys)
    // take the transaction path, which checks their targets under the lock.
    if (!input.replyToId && !input.threadRootId && !input.attachmentIds?.length && !carry) return this.sendPlain(authorId, input.scopeId, input.body, nonce);
    if (nonce) {
      const original = await this.byNonce(authorId, nonce);
      if (original) return { message: await this.checkRetry(original, input.scopeId), events: [] };
    }
    const mentions = await this.checkMentions(authorId, input.scopeId, input.body);
    await this.sendRate.consume(authorId);
    const id = randomUUID();
    try {
      const write = await this.db.transaction(async (tx) => {
        const ev = await appendEvent(tx, { scopeId: input.scopeId, type: 'message.created', actorId: authorId, messageId: id });
        const threadRootId = input.threadRootId ?? null;
        if (threadRootId) await this.checkThreadRoot(tx, input.scopeId, threadRootId);
        if (input.replyToId) await this.checkReplyTarget(tx, input.scopeId, input.replyToId, threadRootId);
        const [row] = await tx
          .insert(messages)
          .values({
            id,
            scopeId: input.scopeId,
            seq: ev.seq,
            authorId,
            body: input.body,
            nonce,
            replyToId: input.replyToId ?? null,
            threadRootId,
            mentionEveryone: mentions.everyone,
          })
          .returning(messageColumns);
        await this.insertMentions(tx, id, input.scopeId, mentions);
        if (input.attachmentIds?.length) await attachToMessage(tx, { authorId, scopeId: input.scopeId, messageId: id, attachmentIds: input.attachmentIds });
        const message = await hydrateOne(tx, row!, authorId);
        return { message, events: [toScopeEvent(ev, forEveryone(message)), ...(carry ? await carry(tx, message) : [])] };
      });
      // As sendPlain: the next send's point, in the write of the publish that follows.
      this.sendRate.reserveNext(authorId);
      return write;
    } catch (err) {
      if (nonce && pgErrorCode(err) === '23505') {
        const original = await this.byNonce(authorId, nonce);
        if (original) return { message: await this.checkRetry(original, input.scopeId), events: [] };
      }
      throw err;
    }
  }

  /**
   * `messages.send`: `send` behind the caller's permission checks (SendMessages, and
   * AttachFiles with attachments). A plain send (no reply target, thread root or
   * attachment) checks SendMessages from this instance's memory when it can
   * (AccessService.requireStamped) and confirms it in its one statement, which writes
   * nothing when access changed since; then it checks again against the database.
   * @throws NotFound, Forbidden as AccessService.require; else as `send`.
   */
  async sendAsMember(
    authorId: string,
    input: { scopeId: string; body: string; nonce?: string | undefined; replyToId?: string | undefined; threadRootId?: string | undefined; attachmentIds?: readonly string[] | undefined },
  ): Promise<MessageWrite> {
    if (!input.replyToId && !input.threadRootId && !input.attachmentIds?.length) {
      const stamp = await this.access.requireStamped(authorId, input.scopeId, Permission.SendMessages);
      if (input.body.trim() === '') throw invalid('body must contain some text (or the message must carry attachments)');
      return this.sendPlain(authorId, input.scopeId, input.body, input.nonce ?? null, stamp);
    }
    await this.access.require(authorId, input.scopeId, Permission.SendMessages);
    if (input.attachmentIds?.length) await this.access.require(authorId, input.scopeId, Permission.AttachFiles);
    return this.send(authorId, input);
  }

  /**
   * `send` of a message that replies to nothing, starts no thread and carries no attachment (the usual one): one
   * statement (send-sql.ts), no transaction block, and the message built from what was
   * inserted (a new message has no reactions and no replies). The nonce is looked up only
   * when something refuses the send (as before, a retry returns the original whatever the
   * checks say now) or the statement finds it; a retry gives its rate point back. With a
   * `stamp`, the statement also confirms that access did not change since it was checked;
   * when it did, SendMessages is checked again from the database (the point goes back if
   * that refuses) and the statement runs again.
   */
  private async sendPlain(authorId: string, scopeId: string, body: string, nonce: string | null, stamp?: AccessStamp): Promise<MessageWrite> {
    const retried = async (): Promise<MessageWrite | null> => {
      const original = nonce ? await this.byNonce(authorId, nonce) : null;
      return original ? { message: await this.checkRetry(original, scopeId), events: [] } : null;
    };
    let mentions: MessageMentions & { readers: string[] };
    try {
      mentions = await this.checkMentions(authorId, scopeId, body);
      await this.sendRate.consume(authorId);
    } catch (err) {
      if (nonce) {
        const r = await retried();
        if (r) return r;
      }
      throw err;
    }
    const id = randomUUID();
    let res: SendResult;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await insertMessage(this.db, { scopeId, authorId, id, body, nonce, mentions, stamp });
      } catch (err) {
        const r = nonce && pgErrorCode(err) === '23505' ? await retried() : null;
        if (!r) throw err;
        await this.sendRate.refund(authorId).catch(() => {});
        return r;
      }
      if (!res.stale) break;
      // Access changed since the check (a role, a kick, an archive…): check again, from the database.
      try {
        stamp = await this.access.requireStamped(authorId, scopeId, Permission.SendMessages, true);
        // Access keeps changing (moderation in progress): after a fresh check, write without the
        // version condition, as a check-then-write send always did, rather than fail the send.
        if (attempt >= STALE_ATTEMPTS) stamp = undefined;
      } catch (err) {
        await this.sendRate.refund(authorId).catch(() => {});
        throw err;
      }
    }
    if (res.dupId !== null) {
      await this.sendRate.refund(authorId).catch(() => {});
      const r = await retried();
      if (r) return r;
      throw conflict('this nonce was just used for another message; use a new nonce per message');
    }
    const message: Message = {
      id,
      scopeId,
      seq: res.seq,
      authorId,
      body,
      nonce,
      createdAt: res.createdAt,
      replyToId: null,
      threadRootId: null,
      threadReplyCount: 0,
      editedAt: null,
      deletedAt: null,
      mentions: { userIds: [...mentions.userIds], roleIds: [...mentions.roleIds], everyone: mentions.everyone },
      reactions: [],
      attachments: [],
    };
    const event = { scopeId, seq: res.seq, type: 'message.created', actorId: authorId, messageId: id, payload: {}, createdAt: res.eventAt };
    // The point of this author's next send, taken now: its command shares the write of the
    // publish that follows in this tick, and the next send skips a round trip (ratelimit.ts).
    this.sendRate.reserveNext(authorId);
    return { message, events: [toScopeEvent(event, message)] };
  }

  /**
   * Edits a message's body; only its author may. The body before the edit is kept in the
   * history (`history`); mentions are parsed again. Sending the same body changes nothing.
   * @returns the message as edited and its `message.edited` event (none for no change).
   * @throws NotFound for a message not in this scope; Forbidden for another author, or a
   *   new @everyone without MentionEveryone; Invalid for a blank body, too many mentions,
   *   or a deleted message; Conflict when the message carries a poll that has votes (its
   *   body is the poll's question, settled once anyone voted).
   */
  async edit(userId: string, input: { scopeId: string; messageId: string; body: string }): Promise<MessageWrite> {
    if (input.body.trim() === '') throw invalid('body must contain some text');
    const current = await this.row(this.db, input.scopeId, input.messageId);
    if (current.authorId !== userId) throw forbidden('only the author may edit a message');
    if (current.deletedAt) throw invalid('this message was deleted; it cannot be edited');
    if (current.body === input.body) return { message: await hydrateOne(this.db, current, userId), events: [] };
    const mentions = await this.checkMentions(userId, input.scopeId, input.body);
    try {
      return await this.db.transaction(async (tx) => {
        const ev = await appendEvent(tx, { scopeId: input.scopeId, type: 'message.edited', actorId: userId, messageId: input.messageId });
        const before = await this.row(tx, input.scopeId, input.messageId, true);
        if (before.deletedAt) throw invalid('this message was deleted; it cannot be edited');
        const [{ last } = { last: null }] = await tx
          .select({ last: max(messageEdits.version) })
          .from(messageEdits)
          .where(eq(messageEdits.messageId, before.id));
        const now = new Date();
        await tx.insert(messageEdits).values({ messageId: before.id, version: (last ?? 0) + 1, previousBody: before.body, replacedAt: now });
        const [row] = await tx
          .update(messages)
          .set({ body: input.body, editedAt: now, mentionEveryone: mentions.everyone })
          .where(eq(messages.id, before.id))
          .returning(messageColumns);
        await tx.delete(messageMentions).where(eq(messageMentions.messageId, before.id));
        await this.insertMentions(tx, before.id, input.scopeId, mentions);
        const message = await hydrateOne(tx, row!, userId);
        return { message, events: [toScopeEvent(ev, forEveryone(message))] };
      });
    } catch (err) {
      // drizzle/0048: the body of a message carrying a poll with votes is its settled question.
      if (pgConstraint(err) === 'messages_carried_settled') throw conflict('this message carries a poll that has votes: its question cannot be edited any more');
      throw err;
    }
  }

  /**
   * Deletes a message (soft): the author may, and so may a holder of ManageMessages. The
   * body, its edit history, mentions, reactions and pin are removed in the same
   * transaction, so no read (list, get, thread, search, history, event replay) shows them
   * again. Deleting a deleted message changes nothing.
   * @returns the tombstone and the events: `message.deleted`, then `message.unpinned`
   *   when it was pinned.
   * @throws NotFound for a message not in this scope; Forbidden for someone else without
   *   ManageMessages.
   */
  async delete(userId: string, input: { scopeId: string; messageId: string }): Promise<MessageWrite> {
    const current = await this.row(this.db, input.scopeId, input.messageId);
    if (current.deletedAt) return { message: await hydrateOne(this.db, current, userId), events: [] };
    if (current.authorId !== userId && !(await this.access.allows(userId, input.scopeId, Permission.ManageMessages))) {
      throw forbidden("deleting someone else's message needs the ManageMessages permission");
    }
    return this.db.transaction(async (tx) => {
      const { row, events } = await this.softDelete(tx, userId, input.scopeId, input.messageId);
      if (!row) throw conflict('this message was deleted at the same moment; nothing to do');
      return { message: await hydrateOne(tx, row, userId), events };
    });
  }

  /**
   * Soft-deletes one message inside the caller's transaction: empties the body, drops its
   * mentions, edit history, reactions and pin, and appends `message.deleted` (and
   * `message.unpinned` when it was pinned). Publish the events after commit.
   * @returns the deleted row, or null when it was already deleted.
   */
  async softDelete(tx: Tx, actorId: string, scopeId: string, messageId: string): Promise<{ row: MessageRow | null; events: ScopeEvent[] }> {
    const ev = await appendEvent(tx, { scopeId, type: 'message.deleted', actorId, messageId, payload: { messageId } });
    const [row] = await tx
      .update(messages)
      .set({ deletedAt: new Date(), body: '', mentionEveryone: false })
      .where(and(eq(messages.id, messageId), isNull(messages.deletedAt)))
      .returning(messageColumns);
    if (!row) return { row: null, events: [] };
    await tx.delete(messageMentions).where(eq(messageMentions.messageId, row.id));
    await tx.delete(messageEdits).where(eq(messageEdits.messageId, row.id));
    await tx.delete(reactions).where(eq(reactions.messageId, row.id));
    const unpinned = await tx.delete(pins).where(eq(pins.messageId, row.id)).returning();
    const events = [{ ...toScopeEvent(ev, null), messageSeq: row.seq }];
    if (unpinned.length > 0) {
      const un = await appendEvent(tx, { scopeId, type: 'message.unpinned', actorId, messageId: row.id, payload: { messageId: row.id } });
      events.push({ ...toScopeEvent(un, null), messageSeq: row.seq });
    }
    return { row, events };
  }

  /**
   * Soft-deletes, inside the caller's transaction, what `authorId` wrote in the last
   * `seconds` in `rootScopeId` and below (a ban's purge), each with its events. Scopes are
   * locked in id order, so two purges cannot deadlock. Publish the events after commit.
   */
  async purge(tx: Tx, actorId: string, authorId: string, rootScopeId: string, seconds: number): Promise<ScopeEvent[]> {
    const victims = await tx
      .select({ id: messages.id, scopeId: messages.scopeId })
      .from(messages)
      .where(
        and(
          eq(messages.authorId, authorId),
          isNull(messages.deletedAt),
          sql`${messages.createdAt} > now() - make_interval(secs => ${seconds})`,
          sql`${messages.scopeId} in (select ${scopes.id} from ${scopes} where ${scopes.id} = ${rootScopeId} or ${rootScopeId}::uuid = any (${scopes.path}))`,
        ),
      )
      .orderBy(asc(messages.scopeId), asc(messages.seq));
    const events: ScopeEvent[] = [];
    for (const v of victims) events.push(...(await this.softDelete(tx, actorId, v.scopeId, v.id)).events);
    return events;
  }

  /**
   * The versions of a message's body, oldest first; the last is the current one
   * (`[{ version: 0, body, at: createdAt }]` for a message never edited).
   * @throws NotFound for a message not in this scope, or a deleted one (its history is gone).
   */
  async history(scopeId: string, messageId: string, floor = 0): Promise<MessageVersion[]> {
    const row = await this.row(this.db, scopeId, messageId, false, floor);
    if (row.deletedAt) throw notFound('this message was deleted; its history is gone');
    const edits = await this.db.select().from(messageEdits).where(eq(messageEdits.messageId, messageId)).orderBy(asc(messageEdits.version));
    const versions: MessageVersion[] = [];
    let at = row.createdAt;
    for (const e of edits) {
      versions.push({ version: versions.length, body: e.previousBody, at });
      at = e.replacedAt;
    }
    versions.push({ version: versions.length, body: row.body, at });
    return versions;
  }

  /**
   * One message, deleted or not (a deleted one is a tombstone: empty body), as `viewerId`
   * sees it (`reactions[].me`).
   * @throws NotFound for a message not in this scope.
   */
  async get(scopeId: string, messageId: string, viewerId: string, floor = 0): Promise<Message> {
    return hydrateOne(this.db, await this.row(this.db, scopeId, messageId, false, floor), viewerId);
  }

  /**
   * History of the main timeline (thread replies and deleted messages left out),
   * keyset-paged on seq. At most one cursor:
   * - none or `beforeSeq`: newest first, seq < beforeSeq;
   * - `afterSeq`: oldest first, seq > afterSeq (catching up after a known point);
   * - `aroundSeq`: oldest first, the ⌈limit/2⌉ messages with seq ≤ aroundSeq and the
   *   ⌊limit/2⌋ after it (jumping to a message).
   * `nextBeforeSeq` / `nextAfterSeq` continue towards older / newer messages (null when
   * there are none now).
   * One statement (list-sql.ts), prepared on PostgreSQL. It checks no permission: the
   * caller must (`listAsMember` does).
   * @param limit 1 to 100.
   * @param viewerId whose history floor applies (history.ts `historyFloor`, computed in the
   *   statement): no message with seq ≤ floor.
   */
  async list(scopeId: string, cursor: ListCursor, limit: number, viewerId: string): Promise<MessagePage> {
    return (await this.listPage(scopeId, cursor, limit, viewerId))!;
  }

  /**
   * `messages.list`: `list` behind the caller's View and ReadHistory check. When this
   * instance remembers an allowing answer (AccessService.rememberedStamp), the page
   * statement confirms it in its own snapshot and the page costs that one statement; when
   * it cannot (nothing remembered, access changed, or the page is empty) the check runs
   * against the database beside the statement, and nothing is answered before access is
   * granted, so a refused caller learns nothing of the page.
   * @throws NotFound, Forbidden as AccessService.require.
   */
  async listAsMember(viewerId: string, scopeId: string, cursor: ListCursor, limit: number): Promise<MessagePage> {
    const flags = Permission.View | Permission.ReadHistory;
    const stamp = await this.access.rememberedStamp(viewerId, scopeId, flags);
    if (stamp) {
      const page = await this.listPage(scopeId, cursor, limit, viewerId, stamp);
      if (page) return page;
    }
    const [allowed, page] = await Promise.allSettled([this.access.require(viewerId, scopeId, flags), this.list(scopeId, cursor, limit, viewerId)]);
    if (allowed.status === 'rejected') throw allowed.reason;
    if (page.status === 'rejected') throw page.reason;
    return page.value;
  }

  /** `list`'s page; with a `stamp`, null when the statement read no row (see listWindows). */
  private async listPage(scopeId: string, cursor: ListCursor, limit: number, viewerId: string, stamp?: AccessStamp): Promise<MessagePage | null> {
    const shape = pageShape(cursor, limit);
    const { d, a } = await listWindows(this.db, scopeId, viewerId, shape.d, shape.a, stamp);
    if (stamp && d.read + a.read === 0) return null;
    return shape.page(d, a);
  }

  /**
   * A thread: its root (a tombstone when deleted) and its live replies, oldest first,
   * keyset-paged on seq, as `viewerId` sees them (`reactions[].me`).
   * @throws NotFound for a root not in this scope; Invalid when the message is itself a
   *   thread reply (threads are one level deep).
   */
  async thread(scopeId: string, rootId: string, afterSeq: number | undefined, limit: number, viewerId: string, floor = 0): Promise<ThreadPage> {
    const rootRow = await this.row(this.db, scopeId, rootId, false, floor);
    if (rootRow.threadRootId) throw invalid('this message is a reply in a thread, not a thread root; ask for its threadRootId');
    const rows = await this.db
      .select(messageColumns)
      .from(messages)
      .where(
        and(
          eq(messages.threadRootId, rootId),
          isNull(messages.deletedAt),
          afterSeq !== undefined || floor > 0 ? gt(messages.seq, Math.max(afterSeq ?? 0, floor)) : undefined,
        ),
      )
      .orderBy(asc(messages.seq))
      .limit(limit + 1);
    const more = rows.length > limit;
    const [root, ...items] = await hydrate(this.db, [rootRow, ...rows.slice(0, limit)], viewerId);
    return { root: root!, items, nextAfterSeq: more ? items.at(-1)!.seq : null };
  }

  /**
   * Full-text search over the live messages of `scopeIds` (the caller decides which
   * scopes they may view), newest first, cursor-paged on (created_at, id).
   * The query is read with `websearch_to_tsquery('simple', …)`: words, "quoted phrases",
   * `or`, `-excluded`; the 'simple' configuration matches the `search` column (see the
   * schema for why not 'english').
   * `floors` (scope id → history.ts `historyFloor`) leaves out what the caller may not see;
   * `viewerId` is the caller (`reactions[].me`).
   * @throws Invalid for a query without a searchable word, or a bad cursor.
   */
  async search(scopeIds: string[], query: string, cursor: string | undefined, limit: number, viewerId: string, floors?: ReadonlyMap<string, number>): Promise<SearchPage> {
    const tsq = sql`websearch_to_tsquery('simple', ${query})`;
    const [probe] = ((await this.db.execute(sql`select numnode(${tsq}) as n`)) as unknown as { rows: { n: number }[] }).rows;
    if (!probe || Number(probe.n) === 0) throw invalid('the query has no word to search for');
    if (scopeIds.length === 0) return { items: [], nextCursor: null };
    let after: { us: string; id: string } | null = null;
    if (cursor) {
      // A cursor is `<created_at in µs since the epoch>_<message uuid>`; anything else (a
      // number past a timestamp's range, a "uuid" of dashes) is refused here, not by the database.
      const m = /^(\d{1,18})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(Buffer.from(cursor, 'base64url').toString());
      if (!m || BigInt(m[1]!) > MAX_CURSOR_US) throw invalid('cursor is not one this server gave out; start again without it');
      after = { us: m[1]!, id: m[2]! };
    }
    const us = sql<string>`(extract(epoch from ${messages.createdAt}) * 1000000)::bigint::text`;
    const rows = await this.db
      .select({ m: messageColumns, us })
      .from(messages)
      .where(
        and(
          inArray(messages.scopeId, scopeIds),
          isNull(messages.deletedAt),
          ...[...(floors ?? [])].filter(([, f]) => f > 0).map(([id, f]) => sql`not (${messages.scopeId} = ${id} and ${messages.seq} <= ${f})`),
          sql`${messages.search} @@ ${tsq}`,
          after
            ? sql`(${messages.createdAt}, ${messages.id}) < (timestamptz 'epoch' + ${after.us}::bigint * interval '1 microsecond', ${after.id}::uuid)`
            : undefined,
        ),
      )
      .orderBy(desc(messages.createdAt), desc(messages.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: await hydrate(this.db, page.map((r) => r.m), viewerId),
      nextCursor: rows.length > limit && last ? Buffer.from(`${last.us}_${last.m.id}`).toString('base64url') : null,
    };
  }

  /** The scopes of a community `userId` may view, for a community-wide search. */
  async viewableScopesUnder(userId: string, communityId: string): Promise<string[]> {
    return viewableScopesUnder(this.db, userId, communityId);
  }

  /**
   * Events of a scope with `afterSeq < seq ≤ uptoSeq`, oldest first, at most `limit`.
   * Message events show the message as it is now (a deleted one as a tombstone).
   */
  async eventsAfter(scopeId: string, afterSeq: number, limit: number, uptoSeq?: number): Promise<ScopeEvent[]> {
    const rows = await this.db
      .select({ event: scopeEvents, message: messageColumns })
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
    const distinct = [...new Map(rows.filter((r) => r.message).map((r) => [r.message!.id, r.message!])).values()];
    const byId = new Map((await hydrate(this.db, distinct, null)).map((m) => [m.id, m]));
    return rows.map((r) => {
      const e = toScopeEvent(r.event, r.message ? byId.get(r.message.id)! : null);
      // An event about an earlier message names its seq (events.ts `aboutSeq`).
      return r.message && e.type !== 'message.created' && e.type !== 'message.edited' ? { ...e, messageSeq: r.message.seq } : e;
    });
  }

  /**
   * A message row of `scopeId`, optionally locked FOR UPDATE; one at or before `floor`
   * (history.ts) is as good as absent.
   * @throws NotFound when there is none with this id in this scope (after `floor`).
   */
  async row(db: Tx, scopeId: string, messageId: string, lock = false, floor = 0): Promise<MessageRow> {
    const q = db
      .select(messageColumns)
      .from(messages)
      .where(and(eq(messages.id, messageId), eq(messages.scopeId, scopeId)))
      .limit(1);
    const [row] = lock ? await q.for('update') : await q;
    if (!row || row.seq <= floor) throw notFound(`message ${messageId} not found in this scope`);
    return row;
  }

  /** Parses and checks the mentions of a body: the count limit and the @everyone flag. */
  private async checkMentions(userId: string, scopeId: string, body: string): Promise<MessageMentions & { readers: string[] }> {
    const mentions = parseMentions(body);
    if (mentionCount(mentions) > limits.mentionsPerMessageMax) {
      throw invalid(`a message may mention at most ${limits.mentionsPerMessageMax} users and roles (@everyone counts as one)`);
    }
    if (mentions.everyone && !(await this.access.allows(userId, scopeId, Permission.MentionEveryone))) {
      throw forbidden('mentioning @everyone needs the MentionEveryone permission');
    }
    // Only those who can read the message are notified (the mention trigger reads them
    // from `guildhall.mention_readers`, drizzle/0013); the rest stay text, as in Discord.
    if (mentions.userIds.length === 0) return { ...mentions, readers: [] };
    const can = await Promise.all(mentions.userIds.map((id) => this.access.allows(id, scopeId, Permission.View | Permission.ReadHistory)));
    return { ...mentions, readers: mentions.userIds.filter((_, i) => can[i]) };
  }

  private async insertMentions(tx: Tx, messageId: string, scopeId: string, m: MessageMentions & { readers: string[] }): Promise<void> {
    if (m.userIds.length > 0) await tx.execute(sql`select set_config('guildhall.mention_readers', ${m.readers.join(',') || '-none-'}, true)`);
    const values = [
      ...m.userIds.map((targetId) => ({ messageId, scopeId, kind: 'user' as const, targetId })),
      ...m.roleIds.map((targetId) => ({ messageId, scopeId, kind: 'role' as const, targetId })),
    ];
    if (values.length > 0) await tx.insert(messageMentions).values(values);
  }

  private async checkThreadRoot(tx: Tx, scopeId: string, rootId: string): Promise<void> {
    const root = await this.row(tx, scopeId, rootId);
    if (root.deletedAt) throw invalid('the thread root was deleted; the thread takes no new replies');
    if (root.threadRootId) throw invalid('threads are one level deep: a reply in a thread cannot start a thread; use its threadRootId');
  }

  private async checkReplyTarget(tx: Tx, scopeId: string, replyToId: string, threadRootId: string | null): Promise<void> {
    const target = await this.row(tx, scopeId, replyToId);
    if (target.deletedAt) throw invalid('the message you reply to was deleted');
    const targetTimeline = target.threadRootId ?? (target.id === threadRootId ? threadRootId : null);
    if (targetTimeline !== threadRootId) {
      throw invalid(
        threadRootId
          ? 'replyToId must be the thread root or a reply in the same thread'
          : 'that message is in a thread; reply to it with threadRootId set to its thread root',
      );
    }
  }

  private async byNonce(authorId: string, nonce: string): Promise<MessageRow | null> {
    const [row] = await this.db
      .select(messageColumns)
      .from(messages)
      .where(and(eq(messages.authorId, authorId), eq(messages.nonce, nonce)))
      .limit(1);
    return row ?? null;
  }

  private async checkRetry(original: MessageRow, scopeId: string): Promise<Message> {
    if (original.scopeId !== scopeId) {
      throw conflict('this nonce was already used for a message in another scope; use a new nonce per message');
    }
    return hydrateOne(this.db, original, original.authorId);
  }
}
