import type { PageWindow, WindowResult } from './list-sql.js';
import type { MessagePage } from './types.js';

/** Where `messages.list` starts: at most one of the three cursors (none: the newest). */
export interface ListCursor {
  beforeSeq?: number | undefined;
  afterSeq?: number | undefined;
  aroundSeq?: number | undefined;
}

/** Above every seq (they are at most Number.MAX_SAFE_INTEGER): the bound of "the newest page". */
const NO_SEQ_ABOVE = Number.MAX_SAFE_INTEGER + 1;

/** The two windows of one history page and how their rows become the page. */
export interface PageShape {
  /** Newest first, below its bound. */
  d: PageWindow;
  /** Oldest first, above its bound. */
  a: PageWindow;
  /** The page from what the windows read: items oldest first for `afterSeq`/`aroundSeq`, newest first otherwise. */
  page(d: WindowResult, a: WindowResult): MessagePage;
}

/**
 * The windows of a `messages.list` page for `cursor` and `limit` (1 to 100), with one row
 * more than kept wherever it only says whether there is more (MessageService.list gives
 * the cursors' meaning). Pure: the statement is list-sql.ts `listWindows`.
 */
export function pageShape(cursor: ListCursor, limit: number): PageShape {
  if (cursor.aroundSeq !== undefined) {
    const around = cursor.aroundSeq;
    const olderN = Math.ceil(limit / 2);
    const newerN = limit - olderN;
    return {
      d: { bound: around + 1, take: olderN + 1, keep: olderN },
      a: { bound: around, take: newerN + 1, keep: newerN },
      page(d, a) {
        const items = [...d.items.reverse(), ...a.items];
        return {
          items,
          // An empty page (a page of one around a seq that is no message) still says how to go on.
          nextBeforeSeq: d.read > olderN ? (items[0]?.seq ?? around + 1) : null,
          nextAfterSeq: a.read > newerN ? (items.at(-1)?.seq ?? around) : null,
        };
      },
    };
  }
  if (cursor.afterSeq !== undefined) {
    const after = cursor.afterSeq;
    return {
      // Window d reads one row at most: is there anything at or before afterSeq?
      d: { bound: after + 1, take: 1, keep: 0 },
      a: { bound: after, take: limit + 1, keep: limit },
      page(d, a) {
        const items = a.items;
        return {
          items,
          // Capped: beforeSeq is at most Number.MAX_SAFE_INTEGER, and no seq reaches it.
          nextBeforeSeq: d.read > 0 ? (items[0]?.seq ?? Math.min(after + 1, Number.MAX_SAFE_INTEGER)) : null,
          nextAfterSeq: a.read > limit ? items.at(-1)!.seq : null,
        };
      },
    };
  }
  const before = cursor.beforeSeq;
  const bound = before ?? NO_SEQ_ABOVE;
  return {
    d: { bound, take: limit + 1, keep: limit },
    // Window a reads one row at most: is there anything at or after beforeSeq? For the
    // newest page it asks above every seq (nothing there, one index descent) rather than
    // reading no window: with a window of 0 rows PostgreSQL's plans for the call's values
    // look cheaper than the cached generic one, and it planned the statement again on
    // every call (3.5× the statement's CPU; test/messages/prepared-plans.test.ts).
    a: { bound: bound - 1, take: 1, keep: 0 },
    page(d, a) {
      const items = d.items;
      return {
        items,
        nextBeforeSeq: d.read > limit ? items.at(-1)!.seq : null,
        nextAfterSeq: a.read > 0 ? (items[0]?.seq ?? before! - 1) : null,
      };
    },
  };
}
