/**
 * Where a member has read up to in one scope, and what is left:
 * - `unreadCount`: messages with seq > lastReadSeq, not by the user, not deleted;
 * - `mentionCount`: those of them mentioning the user directly or through @everyone.
 * Both are counters kept by database triggers, never counted on read.
 */
export interface ReadState {
  scopeId: string;
  lastReadSeq: number;
  unreadCount: number;
  mentionCount: number;
  updatedAt: Date;
}

