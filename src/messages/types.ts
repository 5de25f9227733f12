import type { Attachment } from '../media/types.js';

/** Who a message mentions, parsed from its body (empty for a deleted message). */
export interface MessageMentions {
  /** `<@userId>` in the body, distinct, sorted. */
  userIds: string[];
  /** `<@&roleId>` in the body, distinct, sorted. */
  roleIds: string[];
  /** The body says `@everyone` (allowed only with the MentionEveryone flag). */
  everyone: boolean;
}

/**
 * The reactions with one emoji on a message, bounded whatever their number (as Discord's
 * `{ count, me }`): `count` users reacted, `me` says whether the caller is one of them,
 * and `userIds` names the first `limits.reactionUsersShown` (3) to react, oldest first;
 * `reactions.users` pages through all of them. In a conversation event's message
 * (`message.created`, `message.edited`) there is no one caller and `me` is false: keep
 * your own from your reads and from the reaction events. Apply `reaction.added` and
 * `reaction.removed` by taking their `count` (the count after the change, so a replay
 * over a fresher read converges), setting `me` when their `userId` is yours, and adding
 * the user to (or dropping them from) `userIds` while it is shorter than 3.
 */
export interface ReactionSummary {
  emoji: string;
  count: number;
  me: boolean;
  userIds: string[];
}

/** One page of the users who reacted with one emoji, in user-id order (Discord's order); pass `nextCursor` back as `cursor`. */
export interface ReactionUserPage {
  items: { userId: string; reactedAt: Date }[];
  nextCursor: string | null;
}

/**
 * A message as clients see it. `seq` is its place in the scope's event log. A deleted
 * message (`deletedAt` set) has an empty body, no mentions and no reactions.
 */
export interface Message {
  id: string;
  scopeId: string;
  seq: number;
  authorId: string;
  body: string;
  nonce: string | null;
  createdAt: Date;
  /** The message this one answers (same scope, same timeline), or null. */
  replyToId: string | null;
  /** The root of the thread this message is in, or null for the main timeline. */
  threadRootId: string | null;
  /** On a thread root: its replies that are not deleted. 0 elsewhere. */
  threadReplyCount: number;
  editedAt: Date | null;
  deletedAt: Date | null;
  mentions: MessageMentions;
  /** One entry per emoji, in the order the emoji was first used. */
  reactions: ReactionSummary[];
  /** Files and images (src/media): ids and metadata, no URLs (ask media.downloadUrl). Empty once deleted. */
  attachments: Attachment[];
}

/**
 * One page of history. `nextBeforeSeq`: pass it as `beforeSeq` for the older page (null
 * when there is none); `nextAfterSeq`: pass it as `afterSeq` for the newer page (null
 * when there is none). Item order depends on the request (see `messages.list`).
 */
export interface MessagePage {
  items: Message[];
  nextBeforeSeq: number | null;
  nextAfterSeq: number | null;
}

/** A thread: its root (possibly deleted) and one page of replies, oldest first. */
export interface ThreadPage {
  root: Message;
  items: Message[];
  /** Pass it as `afterSeq` for the next replies; null when there are no more. */
  nextAfterSeq: number | null;
}

/** One version of a message body, oldest first; the last is the current one. */
export interface MessageVersion {
  /** 0 for the body as sent, 1 after the first edit… */
  version: number;
  body: string;
  /** When this version was written (the send, or the edit that made it). */
  at: Date;
}

/** A pinned message. */
export interface Pin {
  message: Message;
  pinnedBy: string | null;
  pinnedAt: Date;
}

/** One page of search results, newest first; pass `nextCursor` back for the next. */
export interface SearchPage {
  items: Message[];
  nextCursor: string | null;
}
