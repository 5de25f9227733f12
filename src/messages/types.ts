/** A message as clients see it. `seq` is its place in the scope's event log. */
export interface Message {
  id: string;
  scopeId: string;
  seq: number;
  authorId: string;
  body: string;
  nonce: string | null;
  createdAt: Date;
}

/** One page of history, newest first; pass `nextBeforeSeq` back as `beforeSeq` for the next. */
export interface MessagePage {
  items: Message[];
  nextBeforeSeq: number | null;
}
