import { z } from 'zod';
import { limits } from '../config.js';
import { AttachmentSchema } from '../media/schemas.js';
import type { Message, MessagePage, MessageVersion, Pin, ReactionUserPage, SearchPage, ThreadPage } from './types.js';

/** A message as clients see it (`Message`); a deleted one has an empty body, no mentions, no reactions, no attachments. */
export const MessageOutput = z.object({
  id: z.guid(),
  scopeId: z.guid(),
  seq: z.number().int(),
  authorId: z.guid(),
  body: z.string(),
  nonce: z.string().nullable(),
  createdAt: z.date(),
  replyToId: z.guid().nullable(),
  threadRootId: z.guid().nullable(),
  threadReplyCount: z.number().int(),
  editedAt: z.date().nullable(),
  deletedAt: z.date().nullable(),
  mentions: z.object({ userIds: z.array(z.guid()), roleIds: z.array(z.guid()), everyone: z.boolean() }),
  reactions: z.array(z.object({ emoji: z.string(), count: z.number().int(), me: z.boolean(), userIds: z.array(z.guid()).max(limits.reactionUsersShown) })),
  attachments: z.array(AttachmentSchema),
}) satisfies z.ZodType<Message>;

/** `messages.list`: one keyset page on seq. */
export const MessagePageOutput = z.object({
  items: z.array(MessageOutput),
  nextBeforeSeq: z.number().int().nullable(),
  nextAfterSeq: z.number().int().nullable(),
}) satisfies z.ZodType<MessagePage>;

/** `messages.thread`: the root and one page of replies, oldest first. */
export const ThreadPageOutput = z.object({
  root: MessageOutput,
  items: z.array(MessageOutput),
  nextAfterSeq: z.number().int().nullable(),
}) satisfies z.ZodType<ThreadPage>;

/** `messages.history`: the versions of a body, oldest first. */
export const MessageHistoryOutput = z.array(
  z.object({ version: z.number().int(), body: z.string(), at: z.date() }) satisfies z.ZodType<MessageVersion>,
);

/** `messages.search`: newest first; pass `nextCursor` back. */
export const SearchPageOutput = z.object({
  items: z.array(MessageOutput),
  nextCursor: z.string().nullable(),
}) satisfies z.ZodType<SearchPage>;

/** `pins.list`: most recently pinned first. */
export const PinListOutput = z.array(
  z.object({ message: MessageOutput, pinnedBy: z.guid().nullable(), pinnedAt: z.date() }) satisfies z.ZodType<Pin>,
);

/** `reactions.users`: in user-id order; pass `nextCursor` back. */
export const ReactionUserPageOutput = z.object({
  items: z.array(z.object({ userId: z.guid(), reactedAt: z.date() })),
  nextCursor: z.guid().nullable(),
}) satisfies z.ZodType<ReactionUserPage>;
