import { createHash } from 'node:crypto';
import { invalid } from '../errors.js';
import { DEFAULT_LIMITS, expandSeries, formatRRule, parseRRule } from './recurrence/index.js';
import { seriesInstances, type EventRow, type OverrideRow } from './expansion.js';
import { formatUtc } from './recurrence/time.js';
import type { EventInstance, FailedSeries, InstancePage } from './types.js';
import { setBounded } from '../infra/local-cache.js';

/*
 * Listing instances of many series: a lazy k-way merge. Each series is a stream that
 * expands a few instances at a time from where the listing stands (never from the start
 * of the window); a min-heap keyed by each stream's next instance yields them in order.
 * A page of `limit` costs about `limit` instances plus a few per series, however long
 * the window and wherever the page is in it.
 */

/**
 * Position in a listing: the last instance handed out (actual start, series id, original
 * start), and each series' position: `h` names the series list (ids and versions) and
 * `p` holds, per series in that list's order, the earliest start (seconds after `s`,
 * base 36) its next instance can have, or '' when it has none left. With it, the next
 * page expands only the series whose turn comes; without it (or when a series changed,
 * was added or removed), every series resumes from `s`.
 */
export interface ListingCursor {
  s: number;
  e: string;
  o: string;
  h?: string;
  p?: string;
}

/** Opaque cursor text (base64url JSON). */
export function encodeCursor(c: ListingCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** @throws Invalid when the text is not a cursor this server issued. */
export function decodeCursor(c: string): ListingCursor {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as ListingCursor;
    if (typeof v.s === 'number' && typeof v.e === 'string' && typeof v.o === 'string' && (v.h === undefined || (typeof v.h === 'string' && typeof v.p === 'string'))) return v;
  } catch {
    // falls through
  }
  throw invalid('cursor is not one this server issued; start again without it');
}

const POSITIONS_MAX_CHARS = 4000;

/**
 * What a series lists from, as text: every field of the row and of its overrides that an
 * instance is made of (not `updated_at` or SEQUENCE, which a write need not change).
 * Hashed, and kept per row and overrides list, so rows served from the series cache pay once.
 */
function contentKey(row: EventRow, overrides: readonly OverrideRow[]): string {
  const known = contentKeys.get(row);
  if (known && known.overrides === overrides) return known.key;
  const text = JSON.stringify([
    row.id, row.scopeId, row.title, row.description, row.location, row.allDay, row.startLocal, row.tzid, row.duration, row.rrule, row.exdates, row.rdates,
    row.firstStart.getTime(), row.lastEnd?.getTime() ?? null,
    overrides.map((o) => [o.originalStart, o.cancelled, o.title, o.description, o.location, o.startLocal, o.endLocal, o.startAt?.getTime() ?? null, o.endAt?.getTime() ?? null]),
  ]);
  const key = createHash('sha256').update(text).digest('base64url');
  contentKeys.set(row, { overrides, key });
  return key;
}
const contentKeys = new WeakMap<EventRow, { overrides: readonly OverrideRow[]; key: string }>();
const NO_OVERRIDES: OverrideRow[] = [];

/** A short name of a series list and its contents (a cursor's positions hold only for the same list). */
function listName(rows: readonly EventRow[], overrides: Map<string, OverrideRow[]>): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(contentKey(r, overrides.get(r.id) ?? NO_OVERRIDES));
  return h.digest('base64url').slice(0, 16);
}

/** Listing order: actual start, then series id, then original start. */
function after(startMs: number, i: EventInstance, c: ListingCursor): boolean {
  return startMs > c.s || (startMs === c.s && (i.eventId > c.e || (i.eventId === c.e && i.originalStart > c.o)));
}

/** A lazy head (a series not expanded yet, whose next instance starts at `ms` or later) goes before a real one at the same `ms`. */
function before(a: Head, b: Head): boolean {
  if (a.ms !== b.ms) return a.ms < b.ms;
  if (!a.i || !b.i) return !a.i && !!b.i ? true : !b.i && !!a.i ? false : a.k < b.k;
  return a.i.eventId < b.i.eventId || (a.i.eventId === b.i.eventId && a.i.originalStart < b.i.originalStart);
}

/** A series in the merge: its next instance (`i`), or only a lower bound of its start (`i` null: not expanded yet). */
type Head = { ms: number; i: EventInstance | null; k: number };

/*
 * A COUNT rule is walked from DTSTART on every expansion (COUNT is counted from there),
 * so a page deep in a long series would redo its history. The same instances come from
 * UNTIL = the COUNT-th instance's start, which the engine walks from any point: computed
 * once per series version and kept here.
 */
const countUntil = new Map<string, string | null>();
const COUNT_UNTIL_ENTRIES = 10_000;

/** The series as the listing expands it: a COUNT rule rewritten with the equivalent UTC UNTIL. */
export function listingRow(row: EventRow): EventRow {
  // BYWEEKNO rules keep COUNT: the engine counts them itself from a year before DTSTART (see walk.ts).
  if (!row.rrule || !/(^|;)COUNT=/.test(row.rrule) || /BYWEEKNO=/.test(row.rrule)) return row;
  const key = `${row.id}|${row.sequence}|${row.rrule}|${row.startLocal}|${row.tzid}|${row.allDay}|${row.duration}`;
  let rule = countUntil.get(key);
  if (rule === undefined) {
    rule = null;
    const all = expandSeries(
      { start: row.startLocal, tzid: row.tzid, allDay: row.allDay, duration: row.duration, rrule: row.rrule, exdates: [], rdates: [] },
      { from: row.firstStart, to: '9999-12-31T00:00:00Z', limit: DEFAULT_LIMITS.maxLimit },
    );
    const last = all.instances.at(-1);
    if (!all.truncated && last) {
      const parsed = parseRRule(row.rrule);
      const until = row.allDay ? { kind: 'date' as const, date: last.startLocal } : { kind: 'utc' as const, utc: formatUtc(Date.parse(last.start)) };
      rule = formatRRule({ ...parsed, count: null, until });
    }
    setBounded(countUntil, key, rule, COUNT_UNTIL_ENTRIES);
  }
  return rule ? { ...row, rrule: rule } : row;
}

/**
 * What has been expanded of one series version in one window, kept between pages: the
 * instances after `origin` (null: from the window's start) up to `last`, in order. A page
 * reads on from its cursor and expands more only when it runs past `last`, in chunks
 * that grow fourfold, so walking a whole window expands each series a few times in all.
 */
interface Expanded {
  origin: ListingCursor | null;
  items: { ms: number; i: EventInstance }[];
  last: ListingCursor | null;
  done: boolean;
  chunk: number;
}

const expanded = new Map<string, Expanded>();
const EXPANDED_SERIES = 5_000;
const EXPANDED_ITEMS = 20_000;

/** True when cursor position `a` is at or after `b` in listing order. */
const notBefore = (a: ListingCursor, b: ListingCursor) => a.s > b.s || (a.s === b.s && (a.e > b.e || (a.e === b.e && a.o >= b.o)));

/** One series' instances after a cursor, read from (and added to) its `Expanded` state. */
class SeriesStream {
  private pos = 0;
  private readonly row: EventRow;
  private readonly state: Expanded;
  private readonly key: string;

  constructor(
    row: EventRow,
    private readonly overrides: readonly OverrideRow[],
    private readonly fromMs: number,
    private readonly toMs: number,
    cursor: ListingCursor | null,
    /** Instances expanded by a new state's first fill; later fills grow fourfold, up to 1000. */
    chunk: number,
  ) {
    this.row = listingRow(row);
    this.key = `${fromMs}|${toMs}|${contentKey(row, overrides)}`;
    const known = expanded.get(this.key);
    const usable = known && (known.origin === null || (cursor !== null && notBefore(cursor, known.origin)));
    this.state = usable ? known : { origin: cursor, items: [], last: cursor, done: false, chunk };
    if (!usable) {
      setBounded(expanded, this.key, this.state, EXPANDED_SERIES);
    }
    if (cursor) {
      // The first cached instance after the cursor.
      const items = this.state.items;
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (after(items[mid]!.ms, items[mid]!.i, cursor)) hi = mid;
        else lo = mid + 1;
      }
      this.pos = lo;
    }
  }

  /** The next instance, or null when the series has none left in the window. @throws the engine's Invalid. */
  next(): { ms: number; i: EventInstance } | null {
    if (this.pos < this.state.items.length) return this.state.items[this.pos++]!;
    if (this.state.done) return null;
    this.fill();
    return this.pos < this.state.items.length ? this.state.items[this.pos++]! : null;
  }

  private fill() {
    const st = this.state;
    const low = st.last ? Math.max(this.fromMs, st.last.s) : this.fromMs;
    for (let lim = st.chunk; ; lim = Math.min(DEFAULT_LIMITS.maxLimit, lim * 4)) {
      const r = seriesInstances(this.row, this.overrides, low, this.toMs, lim);
      const kept: { ms: number; i: EventInstance }[] = [];
      for (const i of r.items) {
        const ms = Date.parse(i.start);
        if (!st.last || after(ms, i, st.last)) kept.push({ ms, i });
      }
      if (kept.length > 0 || !r.truncated || lim >= DEFAULT_LIMITS.maxLimit) {
        st.items.push(...kept);
        st.done = !r.truncated;
        const end = kept.at(-1);
        if (end) st.last = { s: end.ms, e: end.i.eventId, o: end.i.originalStart };
        st.chunk = Math.min(DEFAULT_LIMITS.maxLimit, st.chunk * 4);
        // A very dense series is not kept whole: its next page expands again from its cursor.
        if (st.items.length > EXPANDED_ITEMS) expanded.delete(this.key);
        return;
      }
    }
  }
}

/** A binary min-heap of stream heads in listing order. */
class HeadHeap {
  readonly items: Head[] = [];
  get size() {
    return this.items.length;
  }
  push(h: Head) {
    const a = this.items;
    a.push(h);
    for (let k = a.length - 1; k > 0; ) {
      const p = (k - 1) >> 1;
      if (!before(a[k]!, a[p]!)) break;
      [a[k], a[p]] = [a[p]!, a[k]!];
      k = p;
    }
  }
  /** The first head, without taking it out. */
  peek(): Head | undefined {
    return this.items[0];
  }
  pop(): Head | undefined {
    const a = this.items;
    const top = a[0];
    const end = a.pop();
    if (a.length > 0 && end) {
      a[0] = end;
      this.down();
    }
    return top;
  }
  /** Restores the order after the first head's key was raised in place (one sift down instead of a pop and a push). */
  down() {
    const a = this.items;
    const n = a.length;
    const h = a[0]!;
    let k = 0;
    for (;;) {
      const l = 2 * k + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && before(a[r]!, a[l]!) ? r : l;
      if (!before(a[m]!, h)) break;
      a[k] = a[m]!;
      k = m;
    }
    a[k] = h;
  }
}

/**
 * A merge left where a page ended, kept for the page that resumes from its cursor: the
 * heads and the series' streams (positions into their `Expanded` states). Taken out when
 * used, so a page never shares one with another; a cursor used twice (a retried
 * request) rebuilds it from the cursor's positions instead.
 */
interface Merge {
  rows: readonly EventRow[];
  heap: HeadHeap;
  streams: (SeriesStream | null)[];
}

const merges = new Map<string, Merge>();
const MERGES_KEPT = 256;

const mergeKey = (name: string, fromMs: number, toMs: number, c: ListingCursor) => `${name}|${fromMs}|${toMs}|${c.s}|${c.e}|${c.o}|${c.h ?? ''}|${c.p ?? ''}`;

/**
 * One page of instances of `rows` overlapping `[fromMs, toMs)`, overrides applied, in
 * listing order, after `cursor`. A series whose expansion fails (a rule saved before
 * the save-time checks, say) is left out and named in `failed`; the others are listed.
 * Each series is expanded only when its turn comes: the cursor carries every series'
 * position (see ListingCursor), so a page deep in the window expands the few series it
 * shows, from where they stand, never from the start; and the page after one served by
 * this process resumes its merge where it stopped (`Merge`). `version` names `rows` and
 * `overrides` exactly (see series-cache.ts); without it they are named by their ids,
 * SEQUENCEs and update times.
 */
export function listInstances(
  rows: readonly EventRow[],
  overrides: Map<string, OverrideRow[]>,
  fromMs: number,
  toMs: number,
  limit: number,
  cursor: ListingCursor | null,
  version?: string,
): InstancePage {
  const name = version ?? listName(rows, overrides);
  const resumeKey = cursor ? mergeKey(name, fromMs, toMs, cursor) : null;
  let merge = resumeKey !== null ? merges.get(resumeKey) : undefined;
  if (merge) merges.delete(resumeKey!);
  const failed: FailedSeries[] = [];
  if (!merge) {
    const low = cursor ? Math.max(fromMs, cursor.s) : fromMs;
    let positions: (number | null)[] | null = null;
    if (cursor?.h === name && cursor.p !== undefined) {
      const parts = cursor.p.split('.');
      if (parts.length === rows.length) positions = parts.map((x) => (x === '' ? null : cursor.s + parseInt(x, 36) * 1000));
    }
    merge = { rows, heap: new HeadHeap(), streams: rows.map(() => null) };
    const heap = merge.heap;
    rows.forEach((_, k) => {
      const at = positions ? positions[k] : low;
      if (at !== null && at !== undefined && Number.isFinite(at)) heap.push({ ms: Math.max(at, Number.MIN_SAFE_INTEGER), i: null, k });
    });
  }
  const { heap, streams } = merge;
  const listed = merge.rows;
  // A page of `limit` spread over the series it touches: about limit / series each, a few more to spare.
  const chunk = Math.max(4, Math.ceil(limit / listed.length) + 2);
  // The first head is taken (its instance listed), its series' next instance put in its place, and sifted down.
  const items: EventInstance[] = [];
  while (items.length < limit) {
    const h = heap.peek();
    if (!h) break;
    if (h.i) items.push(h.i);
    const k = h.k;
    const row = listed[k]!;
    let n: { ms: number; i: EventInstance } | null = null;
    try {
      const stream = (streams[k] ??= new SeriesStream(row, overrides.get(row.id) ?? NO_OVERRIDES, fromMs, toMs, cursor, chunk));
      n = stream.next();
    } catch (err) {
      failed.push({ eventId: row.id, title: row.title, message: err instanceof Error ? err.message : String(err) });
    }
    if (n) {
      h.ms = n.ms;
      h.i = n.i;
      heap.down();
    } else {
      heap.pop();
    }
  }
  const last = items.at(-1);
  if (heap.size === 0 || !last) return { items, nextCursor: null, failed };
  const s = Date.parse(last.start);
  const next: (number | null)[] = listed.map(() => null);
  for (const h of heap.items) next[h.k] = h.ms;
  // A lower bound may sit before the cursor's instant (a series not expanded since); it is then `s` itself.
  const p = next.map((ms) => (ms === null ? '' : Math.max(0, Math.floor((ms - s) / 1000)).toString(36))).join('.');
  // Positions of very many series would not fit a GET's URL; the next page then resumes every series from `s`.
  const carried = p.length <= POSITIONS_MAX_CHARS ? { h: name, p } : {};
  const nextCursor: ListingCursor = { s, e: last.eventId, o: last.originalStart, ...carried };
  setBounded(merges, mergeKey(name, fromMs, toMs, nextCursor), merge, MERGES_KEPT);
  return { items, nextCursor: encodeCursor(nextCursor), failed };
}
