import { invalid } from '../errors.js';
import { DEFAULT_LIMITS, expandSeries, formatRRule, parseRRule } from './recurrence/index.js';
import { seriesInstances, type EventRow, type OverrideRow } from './expansion.js';
import { formatUtc } from './recurrence/time.js';
import type { EventInstance, FailedSeries, InstancePage } from './types.js';

/*
 * Listing instances of many series: a lazy k-way merge. Each series is a stream that
 * expands a few instances at a time from where the listing stands (never from the start
 * of the window); a min-heap keyed by each stream's next instance yields them in order.
 * A page of `limit` costs about `limit` instances plus a few per series, however long
 * the window and wherever the page is in it.
 */

/** Position in a listing: the last instance handed out (actual start, series id, original start). */
export interface ListingCursor {
  s: number;
  e: string;
  o: string;
}

/** Opaque cursor text (base64url JSON). */
export function encodeCursor(i: EventInstance): string {
  return Buffer.from(JSON.stringify({ s: Date.parse(i.start), e: i.eventId, o: i.originalStart })).toString('base64url');
}

/** @throws Invalid when the text is not a cursor this server issued. */
export function decodeCursor(c: string): ListingCursor {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as ListingCursor;
    if (typeof v.s === 'number' && typeof v.e === 'string' && typeof v.o === 'string') return v;
  } catch {
    // falls through
  }
  throw invalid('cursor is not one this server issued; start again without it');
}

/** Listing order: actual start, then series id, then original start. */
function after(startMs: number, i: EventInstance, c: ListingCursor): boolean {
  return startMs > c.s || (startMs === c.s && (i.eventId > c.e || (i.eventId === c.e && i.originalStart > c.o)));
}

function before(a: Head, b: Head): boolean {
  return a.ms < b.ms || (a.ms === b.ms && (a.i.eventId < b.i.eventId || (a.i.eventId === b.i.eventId && a.i.originalStart < b.i.originalStart)));
}

type Head = { ms: number; i: EventInstance; stream: SeriesStream };

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
  const key = `${row.id}|${row.sequence}|${row.rrule}|${row.startLocal}|${row.tzid}|${row.duration}`;
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
    if (countUntil.size >= COUNT_UNTIL_ENTRIES) countUntil.delete(countUntil.keys().next().value!);
    countUntil.set(key, rule);
  }
  return rule ? { ...row, rrule: rule } : row;
}

/** One series' instances after a cursor, expanded a chunk at a time. */
class SeriesStream {
  private buffer: { ms: number; i: EventInstance }[] = [];
  private pos = 0;
  private done = false;
  private chunk = 4;
  private last: ListingCursor | null;
  private readonly row: EventRow;

  constructor(
    row: EventRow,
    private readonly overrides: readonly OverrideRow[],
    private readonly fromMs: number,
    private readonly toMs: number,
    cursor: ListingCursor | null,
  ) {
    this.row = listingRow(row);
    this.last = cursor;
  }

  /** The next instance, or null when the series has none left in the window. @throws the engine's Invalid. */
  next(): { ms: number; i: EventInstance } | null {
    if (this.pos < this.buffer.length) return this.buffer[this.pos++]!;
    if (this.done) return null;
    this.fill();
    return this.pos < this.buffer.length ? this.buffer[this.pos++]! : null;
  }

  private fill() {
    const low = this.last ? Math.max(this.fromMs, this.last.s) : this.fromMs;
    for (let lim = this.chunk; ; lim = Math.min(DEFAULT_LIMITS.maxLimit, lim * 4)) {
      const r = seriesInstances(this.row, this.overrides, low, this.toMs, lim);
      const kept: { ms: number; i: EventInstance }[] = [];
      for (const i of r.items) {
        const ms = Date.parse(i.start);
        if (!this.last || after(ms, i, this.last)) kept.push({ ms, i });
      }
      if (kept.length > 0 || !r.truncated || lim >= DEFAULT_LIMITS.maxLimit) {
        this.buffer = kept;
        this.pos = 0;
        this.done = !r.truncated;
        const end = kept.at(-1);
        if (end) this.last = { s: end.ms, e: end.i.eventId, o: end.i.originalStart };
        this.chunk = Math.min(256, this.chunk * 2);
        return;
      }
    }
  }
}

/** A binary min-heap of stream heads in listing order. */
class HeadHeap {
  private items: Head[] = [];
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
  pop(): Head | undefined {
    const a = this.items;
    const top = a[0];
    const end = a.pop();
    if (a.length > 0 && end) {
      a[0] = end;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === k) break;
        [a[k], a[m]] = [a[m]!, a[k]!];
        k = m;
      }
    }
    return top;
  }
}

/**
 * One page of instances of `rows` overlapping `[fromMs, toMs)`, overrides applied, in
 * listing order, after `cursor`. A series whose expansion fails (a rule saved before
 * the save-time checks, say) is left out and named in `failed`; the others are listed.
 * The cursor is the last instance handed out: since the order is total, it fixes every
 * series' position, and each series resumes from that instant (its first expansion on a
 * page starts there, not at the window's start).
 */
export function listInstances(
  rows: readonly EventRow[],
  overrides: Map<string, OverrideRow[]>,
  fromMs: number,
  toMs: number,
  limit: number,
  cursor: ListingCursor | null,
): InstancePage {
  const heap = new HeadHeap();
  const failed: FailedSeries[] = [];
  const advance = (stream: SeriesStream, row: EventRow) => {
    try {
      const n = stream.next();
      if (n) heap.push({ ...n, stream });
    } catch (err) {
      failed.push({ eventId: row.id, title: row.title, message: err instanceof Error ? err.message : String(err) });
    }
  };
  const rowOf = new Map<SeriesStream, EventRow>();
  for (const row of rows) {
    const stream = new SeriesStream(row, overrides.get(row.id) ?? [], fromMs, toMs, cursor);
    rowOf.set(stream, row);
    advance(stream, row);
  }
  const items: EventInstance[] = [];
  while (items.length < limit && heap.size > 0) {
    const h = heap.pop()!;
    items.push(h.i);
    advance(h.stream, rowOf.get(h.stream)!);
  }
  const more = heap.size > 0;
  return { items, nextCursor: more && items.length > 0 ? encodeCursor(items.at(-1)!) : null, failed };
}
