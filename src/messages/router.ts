import { z } from 'zod';
import { limits } from '../config.js';
import { AppError } from '../errors.js';
import type { ScopeEvent } from './events.js';
import type { Services } from '../app.js';
import { conversationSubscription } from '../realtime/subscriptions.js';
import { ScopeId, scopeIdNamed, userIdNamed } from '../scopes/router.js';
import { LastEventId } from '../realtime/router.js';
import { authedProcedure, router } from '../trpc.js';
import { Permission } from '../permissions/flags.js';
import type { Access } from '../permissions/service.js';
import { historyFloor } from './history.js';
import { canonicalEmoji, EMOJI_RULE } from './emoji.js';
import { MessageHistoryOutput, MessageOutput, MessagePageOutput, PinListOutput, ReactionUserPageOutput, SearchPageOutput, ThreadPageOutput } from './outputs.js';
import { AttachmentId } from '../media/schemas.js';
import { unnamed } from '../realtime/unnamed.js';

export const MessageId = z.uuid({ message: 'messageId must be a message id (uuid)' });
const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Body = z.string().max(limits.messageBodyMax, `body must be at most ${limits.messageBodyMax} characters`);

export const SendMessageInput = z.object({
  scopeId: ScopeId,
  body: Body,
  /** Client-chosen id of this send; a retry with the same nonce returns the original message. */
  nonce: z.string().min(1).max(limits.nonceMax).optional(),
  /** The message this one answers: same scope, same timeline (the thread or the main one). */
  replyToId: MessageId.optional(),
  /** Send into the thread of this main-timeline message (threads are one level deep). */
  threadRootId: MessageId.optional(),
  /** Uploads from media.createUpload (yours, for this scope, not yet sent; pending, ready or failed); needs AttachFiles. */
  attachmentIds: z.array(AttachmentId).max(limits.attachmentsPerMessageMax, `a message holds at most ${limits.attachmentsPerMessageMax} attachments`).optional(),
});

export const ListMessagesInput = z
  .object({
    scopeId: ScopeId,
    beforeSeq: Seq.min(1).optional(),
    afterSeq: Seq.optional(),
    aroundSeq: Seq.min(1).optional(),
    limit: z.number().int().min(1).max(limits.pageMax).default(50),
  })
  .refine((i) => [i.beforeSeq, i.afterSeq, i.aroundSeq].filter((c) => c !== undefined).length <= 1, {
    message: 'give at most one of beforeSeq, afterSeq and aroundSeq',
  });

/** One message of a scope. */
export const MessageRef = z.object({ scopeId: ScopeId, messageId: MessageId });

export const EditMessageInput = MessageRef.extend({ body: Body });

export const ThreadInput = z.object({
  scopeId: ScopeId,
  rootId: MessageId,
  afterSeq: Seq.optional(),
  limit: z.number().int().min(1).max(limits.pageMax).default(50),
});

export const SearchMessagesInput = z
  .object({
    /** Search one scope… */
    scopeId: ScopeId.optional(),
    /** …or every scope of a community the caller is a member of. */
    communityId: scopeIdNamed('communityId').optional(),
    query: z.string().trim().min(1, 'query must not be empty').max(limits.searchQueryMax),
    cursor: z.string().max(200).optional(),
    limit: z.number().int().min(1).max(limits.pageMax).default(25),
  })
  .refine((i) => (i.scopeId === undefined) !== (i.communityId === undefined), {
    message: 'give exactly one of scopeId and communityId',
  });

/** An emoji: one Unicode emoji (RGI, with its modifiers; VS16 may be left out) or a custom `:name:`; the services store `canonicalEmoji` of it. */
export const Emoji = z
  .string()
  .min(1)
  .max(limits.reactionEmojiMax)
  .refine((e) => canonicalEmoji(e) !== null, EMOJI_RULE);

export const ReactionInput = MessageRef.extend({ emoji: Emoji });
const ReactionUsersInput = ReactionInput.extend({
  /** `nextCursor` of the previous page. */
  cursor: userIdNamed('cursor (the nextCursor of the previous page)').optional(),
  limit: z.number().int().min(1).max(limits.pageMax).default(50),
});

export const OnEventInput = z.object({
  scopeId: ScopeId,
  /** The tracked id of the last event the client has; the ws link fills it in on reconnect. */
  lastEventId: LastEventId,
});

/** The caller's history floor in the scope it was just allowed to read (history.ts): 0 under `shared`. */
const floorOf = (svc: Services, a: Access, userId: string) => historyFloor(svc.members, a, userId);

/** Publishes committed events in seq order (after the transaction, never inside it). */
async function publishAll(svc: Services, events: readonly ScopeEvent[]): Promise<void> {
  for (const e of events) await svc.hub.publish(e);
}

export const messagesRouter = router({
  /**
   * Sends a message to a scope the caller is a member of. Returns the Message
   * (`{ id, scopeId, seq, authorId, body, nonce, createdAt, replyToId, threadRootId,
   * threadReplyCount, editedAt, deletedAt, mentions, reactions }`); a retry with the same
   * nonce returns the original and creates nothing. Mentions: `<@userId>`, `<@&roleId>`,
   * `@everyone` (at most 20 in all; @everyone needs MentionEveryone).
   * Errors: BAD_REQUEST for a blank body or one over 4,000 characters, too many mentions,
   * a deleted or wrong-timeline replyToId/threadRootId, a thread reply as threadRootId;
   * NOT_FOUND for an unknown scope or a target not in it; FORBIDDEN for a non-member or
   * @everyone without the flag; TOO_MANY_REQUESTS past 20 sends per 10 s (the message says
   * when to retry); CONFLICT for a nonce used in another scope.
   * `attachmentIds` (at most 10; needs AttachFiles): uploads of media.createUpload, the
   * caller's, for this scope, not sent before; the message then may have an empty body. It
   * carries them at once: pending ones stay pending until their `attachment.updated`
   * event, and one that already failed is carried failed with its reason, as one that
   * fails later. BAD_REQUEST names an id that cannot be attached.
   */
  send: authedProcedure.input(SendMessageInput).output(MessageOutput).meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/messages', tags: ['messages'], summary: 'Send a message' } }).mutation(async ({ ctx, input }) => {
    const { message, events } = await ctx.svc.messages.sendAsMember(ctx.user.id, input);
    await publishAll(ctx.svc, events);
    return message;
  }),

  /**
   * History of the main timeline (no thread replies, no deleted messages), keyset-paged
   * on seq: `{ items, nextBeforeSeq, nextAfterSeq }`. At most one cursor:
   * none or `beforeSeq` → newest first; `afterSeq` → oldest first, seq > afterSeq;
   * `aroundSeq` → oldest first, ⌈limit/2⌉ messages up to and including aroundSeq and
   * ⌊limit/2⌋ after it. Pass `nextBeforeSeq` as beforeSeq for older messages and
   * `nextAfterSeq` as afterSeq for newer ones (null: none now). `limit` 1 to 100, default 50.
   * Errors: BAD_REQUEST for two cursors or a bad limit; NOT_FOUND; FORBIDDEN.
   */
  list: authedProcedure.input(ListMessagesInput).output(MessagePageOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/messages', tags: ['messages'], summary: 'History, keyset-paged on seq' } }).query(async ({ ctx, input }) => {
    return ctx.svc.messages.listAsMember(ctx.user.id, input.scopeId, input, input.limit);
  }),

  /**
   * One message (a deleted one as a tombstone: empty body, `deletedAt` set).
   * Errors: NOT_FOUND (also for a message of another scope); FORBIDDEN for a non-member.
   */
  get: authedProcedure.input(MessageRef).output(MessageOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/messages/{messageId}', tags: ['messages'], summary: 'One message' } }).query(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View | Permission.ReadHistory);
    return ctx.svc.messages.get(input.scopeId, input.messageId, ctx.user.id, await floorOf(ctx.svc, a, ctx.user.id));
  }),

  /**
   * A thread: `{ root, items, nextAfterSeq }`, replies oldest first (deleted ones left
   * out), paged with `afterSeq`. Errors: NOT_FOUND; FORBIDDEN; BAD_REQUEST when rootId is
   * itself a thread reply.
   */
  thread: authedProcedure.input(ThreadInput).output(ThreadPageOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/messages/{rootId}/thread', tags: ['messages'], summary: 'A thread: its root and replies' } }).query(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View | Permission.ReadHistory);
    return ctx.svc.messages.thread(input.scopeId, input.rootId, input.afterSeq, input.limit, ctx.user.id, await floorOf(ctx.svc, a, ctx.user.id));
  }),

  /**
   * Edits the body of one's own message; the old body goes to its history and a
   * `message.edited` event carries the new one. The same body again changes nothing.
   * Errors: FORBIDDEN for someone else's message (or a new @everyone without the flag);
   * BAD_REQUEST for a blank or too long body, too many mentions, a deleted message; NOT_FOUND.
   */
  edit: authedProcedure.input(EditMessageInput).output(MessageOutput).meta({ openapi: { method: 'PATCH', path: '/scopes/{scopeId}/messages/{messageId}', tags: ['messages'], summary: 'Edit your message' } }).mutation(async ({ ctx, input }) => {
    await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.SendMessages);
    const { message, events } = await ctx.svc.messages.edit(ctx.user.id, input);
    await publishAll(ctx.svc, events);
    return message;
  }),

  /**
   * Deletes a message (the author, or a holder of ManageMessages). The body, its history,
   * mentions, reactions and pin are gone from every read from then on, including the
   * replay of its `message.created`. Emits `message.deleted` (and `message.unpinned` when
   * it was pinned); deleting again changes nothing. Returns the tombstone.
   * Errors: FORBIDDEN; NOT_FOUND.
   */
  delete: authedProcedure.input(MessageRef).output(MessageOutput).meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/messages/{messageId}', tags: ['messages'], summary: 'Delete a message' } }).mutation(async ({ ctx, input }) => {
    await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View);
    const { message, events } = await ctx.svc.messages.delete(ctx.user.id, input);
    await publishAll(ctx.svc, events);
    return message;
  }),

  /**
   * The versions of a message body, oldest first, the current one last:
   * `[{ version, body, at }]`. Errors: NOT_FOUND (also once the message is deleted); FORBIDDEN.
   */
  history: authedProcedure.input(MessageRef).output(MessageHistoryOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/messages/{messageId}/history', tags: ['messages'], summary: 'The versions of a message body' } }).query(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View | Permission.ReadHistory);
    return ctx.svc.messages.history(input.scopeId, input.messageId, await floorOf(ctx.svc, a, ctx.user.id));
  }),

  /**
   * Full-text search (PostgreSQL, 'simple' configuration; web-search syntax: words,
   * "phrases", or, -word) over one scope, or over every scope of a community the caller
   * is a member of; deleted messages never match. Newest first:
   * `{ items, nextCursor }`, `limit` 1 to 100 (default 25).
   * Errors: BAD_REQUEST for none or both of scopeId/communityId, an empty query, a bad
   * cursor; NOT_FOUND; FORBIDDEN for a non-member of the scope or community.
   */
  search: authedProcedure.input(SearchMessagesInput).output(SearchPageOutput).meta({ openapi: { method: 'GET', path: '/messages/search', tags: ['messages'], summary: 'Full-text search in a scope or a community' } }).query(async ({ ctx, input }) => {
    let scopeIds: string[];
    if (input.scopeId) {
      await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View | Permission.ReadHistory);
      scopeIds = [input.scopeId];
    } else {
      await ctx.svc.access.require(ctx.user.id, input.communityId!, Permission.View);
      scopeIds = await ctx.svc.messages.viewableScopesUnder(ctx.user.id, input.communityId!);
    }
    const floors = new Map<string, number>();
    for (const id of scopeIds) {
      const a = await ctx.svc.access.resolve(ctx.user.id, id);
      if (a.scope.historyVisibility === 'joined') floors.set(id, await floorOf(ctx.svc, a, ctx.user.id));
    }
    return ctx.svc.messages.search(scopeIds, input.query, input.cursor, input.limit, ctx.user.id, floors);
  }),

  /**
   * The conversation's events: `tracked(String(seq), event)`, where event is a ScopeEvent
   * (message.created, message.edited, …; discriminated on `type`) or `resync.required`
   * (you were more than 5,000 events behind: refetch with messages.list, then carry on).
   * With `lastEventId` it first replays what came after it, then goes live: nothing
   * missed, nothing twice. It ends with FORBIDDEN when the caller loses access.
   * Errors: NOT_FOUND, FORBIDDEN, BAD_REQUEST for a lastEventId ahead of the log.
   */
  onEvent: authedProcedure.input(OnEventInput).subscription(async ({ ctx, input, signal }) => {
    const flags = Permission.View | Permission.ReadHistory;
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, flags);
    const { scope } = a;
    const floor = await floorOf(ctx.svc, a, ctx.user.id);
    return conversationSubscription(ctx.svc, {
      userId: ctx.user.id,
      scope,
      lastEventId: input.lastEventId,
      signal,
      floor,
      // Access holds while the flags do and the history floor is the one this feed applies.
      // unnamed(): no keepNames property array on this per-subscription closure.
      // A refusal (NotFound, Forbidden) is "no"; any other failure (the database restarting)
      // is thrown, so a feed's start fails and its client resumes rather than being refused.
      stillAllowed: unnamed(async () => {
        const now = await ctx.svc.access.require(ctx.user.id, scope.id, flags).catch((err: unknown) => {
          if (err instanceof AppError && (err.code === 'NotFound' || err.code === 'Forbidden')) return null;
          throw err;
        });
        return now !== null && (await floorOf(ctx.svc, now, ctx.user.id)) === floor;
      }),
    });
  }),
});

export const reactionsRouter = router({
  /**
   * The users who reacted with `emoji`: `{ items: [{ userId, reactedAt }], nextCursor }`
   * in user-id order (as Discord's reaction users), `limit` (1 to 100, default 50) per
   * page; pass `nextCursor` back as `cursor`. A deleted message has none. Needs View and
   * ReadHistory. Errors: BAD_REQUEST for a bad emoji, limit or cursor; NOT_FOUND;
   * FORBIDDEN.
   */
  users: authedProcedure.input(ReactionUsersInput).output(ReactionUserPageOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/messages/{messageId}/reactions/{emoji}', tags: ['messages'], summary: 'Who reacted with an emoji' } }).query(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View | Permission.ReadHistory);
    return ctx.svc.reactions.users({ ...input, floor: await floorOf(ctx.svc, a, ctx.user.id) });
  }),

  /**
   * Adds the caller's reaction (`emoji`: one Unicode emoji or `:custom_name:`) to a
   * message; returns the message with its reactions (`[{ emoji, count, me, userIds }]`,
   * userIds the first 3 to react: ReactionSummary).
   * Emits `reaction.added`; adding it again changes nothing. At most 20 different emoji
   * per message. Errors: BAD_REQUEST for a bad emoji, a deleted message or a 21st emoji;
   * FORBIDDEN without AddReactions; NOT_FOUND.
   */
  add: authedProcedure.input(ReactionInput).output(MessageOutput).meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/messages/{messageId}/reactions/{emoji}', tags: ['messages'], summary: 'React to a message' } }).mutation(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.AddReactions);
    const { message, events } = await ctx.svc.reactions.add(ctx.user.id, { ...input, floor: await floorOf(ctx.svc, a, ctx.user.id) });
    await publishAll(ctx.svc, events);
    return message;
  }),

  /**
   * Removes the caller's reaction; emits `reaction.removed` (nothing when it was not
   * there). Returns the message. Errors: BAD_REQUEST for a deleted message; NOT_FOUND; FORBIDDEN.
   */
  remove: authedProcedure.input(ReactionInput).output(MessageOutput).meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/messages/{messageId}/reactions/{emoji}', tags: ['messages'], summary: 'Remove your reaction' } }).mutation(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View);
    const { message, events } = await ctx.svc.reactions.remove(ctx.user.id, { ...input, floor: await floorOf(ctx.svc, a, ctx.user.id) });
    await publishAll(ctx.svc, events);
    return message;
  }),
});

export const pinsRouter = router({
  /**
   * Pins a message (needs PinMessages); emits `message.pinned`, nothing when it was pinned
   * already. At most 50 pins per scope. Returns the message.
   * Errors: FORBIDDEN; BAD_REQUEST for a deleted message or a full scope; NOT_FOUND.
   */
  add: authedProcedure.input(MessageRef).output(MessageOutput).meta({ openapi: { method: 'PUT', path: '/scopes/{scopeId}/pins/{messageId}', tags: ['messages'], summary: 'Pin a message' } }).mutation(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.PinMessages);
    const { message, events } = await ctx.svc.pins.add(ctx.user.id, { ...input, floor: await floorOf(ctx.svc, a, ctx.user.id) });
    await publishAll(ctx.svc, events);
    return message;
  }),

  /**
   * Unpins a message (needs PinMessages); emits `message.unpinned`, nothing when it was
   * not pinned. Returns the message. Errors: FORBIDDEN; NOT_FOUND.
   */
  remove: authedProcedure.input(MessageRef).output(MessageOutput).meta({ openapi: { method: 'DELETE', path: '/scopes/{scopeId}/pins/{messageId}', tags: ['messages'], summary: 'Unpin a message' } }).mutation(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.PinMessages);
    const { message, events } = await ctx.svc.pins.remove(ctx.user.id, { ...input, floor: await floorOf(ctx.svc, a, ctx.user.id) });
    await publishAll(ctx.svc, events);
    return message;
  }),

  /**
   * The scope's pins, most recently pinned first: `[{ message, pinnedBy, pinnedAt }]`.
   * Errors: NOT_FOUND; FORBIDDEN.
   */
  list: authedProcedure.input(z.object({ scopeId: ScopeId })).output(PinListOutput).meta({ openapi: { method: 'GET', path: '/scopes/{scopeId}/pins', tags: ['messages'], summary: 'The scope\'s pins' } }).query(async ({ ctx, input }) => {
    const a = await ctx.svc.access.require(ctx.user.id, input.scopeId, Permission.View | Permission.ReadHistory);
    return ctx.svc.pins.list(input.scopeId, ctx.user.id, await floorOf(ctx.svc, a, ctx.user.id));
  }),
});
