import type { Temporal } from 'temporal-polyfill';
import { invalid } from '../../errors.js';
import { collect } from './expand.js';
import { resolveLimits, type RecurrenceLimits } from './limits.js';
import { formatRRule, type RRule } from './rrule.js';
import { compileSeries, type Series } from './series.js';
import { DAY_MS, formatLocal, formatUtc, parseDate, parseInstant, wallAt, wallMs, zonedStartOfDay } from './time.js';
import { walkRule } from './walk.js';

/** The two halves of a "this and following" edit. */
export interface SeriesSplit {
  /**
   * RRULE for the first half, ending just before the split instance: COUNT
   * set to the instances before it when the rule used COUNT, else UNTIL one
   * second before it (a UTC DATE-TIME; for all-day, the DATE of the day before).
   * Null when no instance of the rule comes before the split: the whole series
   * is the second half.
   */
  headRRule: string | null;
  /**
   * DTSTART of the second half: the split instance's nominal wall-clock start,
   * in the form of `Series.start`. For an instance moved by a DST gap this is the
   * rule's time (02:30), which the gap policy places at the same instant again.
   */
  tailStart: string;
  /** RRULE for the second half: COUNT replaced by `tailCount` when the rule used COUNT, otherwise the rule as it was. */
  tailRRule: string;
  /** Instances left for the second half when the rule used COUNT (COUNT minus those before the split), else null. */
  tailCount: number | null;
}

interface Found {
  nominal: Temporal.PlainDateTime;
  nominalMs: number;
}

/**
 * Splits a series in two at one of its RRULE instances ("this and following"):
 * the first half keeps DTSTART and ends before the instance, the second half
 * starts at it. Instances before the split, counting those removed by EXDATE
 * (COUNT counts them, RFC 5545 §3.8.5.3), stay with the first half.
 *
 * The instance periods and every default taken from DTSTART carry over, since
 * the second half starts on an instance of the first. As a safeguard the two
 * halves are expanded around the split and must give exactly the original
 * instances; otherwise the split is refused rather than answered wrong.
 * EXDATEs and RDATEs are the caller's to partition by comparing their instants
 * with the split's.
 *
 * @param series the series (validated here).
 * @param recurrenceId the split instance's original start: an instant
 *   (`Instance.recurrenceId`, or any RFC 3339 form of it) for a timed series,
 *   a date for an all-day one.
 * @param limits overrides of the default limits.
 * @returns the RRULEs and COUNT of both halves and the second half's DTSTART.
 * @throws AppError Invalid when the series has no RRULE, when `recurrenceId` is
 *   not an instance of its RRULE, or when the split cannot be made exactly.
 */
export function splitSeries(series: Series, recurrenceId: string, limits?: Partial<RecurrenceLimits>): SeriesSplit {
  const L = resolveLimits(limits);
  const c = compileSeries(series, L);
  const rule = c.rule;
  if (!rule) throw invalid('this series has no RRULE to split');
  const splitMs = c.allDay
    ? zonedStartOfDay(parseDate(recurrenceId, 'recurrenceId'), c.tz).epochMilliseconds
    : parseInstant(recurrenceId, 'recurrenceId');
  const splitWallMs = wallMs(wallAt(splitMs, c.tz));

  let found: Found | null = null;
  let before = 0;
  walkRule(c, rule, L, {
    lowWallMs: rule.count === null ? splitWallMs - 2 * DAY_MS : null,
    highWallMs: splitWallMs + 2 * DAY_MS,
    visit: (o) => {
      if (o.startMs === splitMs) {
        found = { nominal: o.nominal, nominalMs: o.nominalMs };
        return false;
      }
      before += 1;
      return true;
    },
  });
  const at = found as Found | null;
  if (!at) throw invalid(`${recurrenceId} is not an instance of this series' RRULE`);

  let head: RRule | null;
  let tail: RRule;
  let tailCount: number | null = null;
  if (rule.count !== null) {
    head = before === 0 ? null : { ...rule, count: before };
    tailCount = rule.count - before;
    tail = { ...rule, count: tailCount };
  } else {
    let firstMs = Number.POSITIVE_INFINITY;
    walkRule(c, rule, L, {
      lowWallMs: null,
      highWallMs: at.nominalMs,
      visit: (o) => {
        firstMs = o.nominalMs;
        return false;
      },
    });
    const until = c.allDay
      ? { kind: 'date' as const, date: at.nominal.toPlainDate().subtract({ days: 1 }).toString() }
      : { kind: 'utc' as const, utc: formatUtc(splitMs - 1000) };
    head = firstMs < at.nominalMs ? { ...rule, until } : null;
    tail = rule;
  }

  const split: SeriesSplit = {
    headRRule: head ? formatRRule(head) : null,
    tailStart: c.allDay ? at.nominal.toPlainDate().toString() : formatLocal(at.nominal),
    tailRRule: formatRRule(tail),
    tailCount,
  };
  checkHalves(series, split, splitMs, L);
  return split;
}

/**
 * Refuses a split whose halves do not give back the original instances: around
 * the split (a day either side, where a DST change could reorder instances),
 * the first half followed by the second must list exactly the original
 * instances, all of the first half before the split and the second starting at it.
 */
function checkHalves(series: Series, split: SeriesSplit, splitMs: number, L: RecurrenceLimits): void {
  const plain: Series = { ...series, exdates: null, rdates: null };
  const fromMs = splitMs - DAY_MS;
  const toMs = splitMs + DAY_MS;
  const ids = (s: Series) => {
    const compiled = compileSeries(s, L);
    const result = collect(compiled, L, fromMs, toMs, L.maxIterations);
    return { ids: result.instances.map((i) => Date.parse(i.start)), normalized: compiled.normalized };
  };
  const original = ids(plain);
  const head = split.headRRule ? ids({ ...plain, rrule: split.headRRule }).ids : [];
  const tail = ids({ ...plain, start: split.tailStart, rrule: split.tailRRule, end: null, duration: original.normalized.duration }).ids;
  const halves = [...head, ...tail];
  const exact =
    halves.length === original.ids.length &&
    halves.every((ms, i) => ms === original.ids[i]) &&
    head.every((ms) => ms < splitMs) &&
    tail[0] === splitMs;
  if (!exact) {
    throw invalid(
      `cannot split this series exactly at ${formatUtc(splitMs)}: the two halves would not repeat its instances ` +
        '(this happens for sub-daily rules next to a DST change); edit the whole series instead',
    );
  }
}
