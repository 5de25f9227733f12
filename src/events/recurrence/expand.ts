import type { Temporal } from 'temporal-polyfill';
import { invalid } from '../../errors.js';
import { setBounded } from '../../infra/local-cache.js';
import { resolveLimits, type RecurrenceLimits } from './limits.js';
import { compileSeries, type CompiledSeries, type Series } from './series.js';
import {
  formatUtc,
  formatWithOffset,
  offsetMsAt,
  parseInstant,
  stamp,
  transitionSlackMs,
  zonedAt,
  zonedFromWallClock,
  zonedStartOfDay,
} from './time.js';
import { Occurrence, walkRule } from './walk.js';

/** One occurrence of a series. */
export interface Instance {
  /**
   * The original start, the key for overrides (RFC 5545 §3.8.4.4 RECURRENCE-ID).
   * Timed: the start instant in UTC, `YYYY-MM-DDTHH:mm:ssZ`. All-day: the date, `YYYY-MM-DD`.
   */
  recurrenceId: string;
  /** Start instant, RFC 3339 with the zone's offset (`2026-03-08T09:00:00-04:00`; `Z` at offset zero). All-day: start of the day in the series' zone. */
  start: string;
  /** End instant, same form as `start`. */
  end: string;
  /** Start as wall-clock time in the series' zone, `YYYY-MM-DDTHH:mm:ss`; all-day: `YYYY-MM-DD`. */
  startLocal: string;
  /** End as wall-clock time in the series' zone; all-day: the exclusive end date. */
  endLocal: string;
}

/** The time window to list instances for. */
export interface ExpandWindow {
  /** Inclusive lower bound: a `Date` or an RFC 3339 instant string. */
  from: Date | string;
  /** Exclusive upper bound, same forms. Must be after `from`. */
  to: Date | string;
  /** Most instances to return, 1 to `maxLimit` (default `defaultLimit`). */
  limit?: number;
}

export interface ExpandResult {
  /** Instances overlapping the window, earliest start first, at most `limit`. */
  instances: Instance[];
  /** True when more instances overlap the window than were returned. */
  truncated: boolean;
}

/** Builds the instance starting at `o` (its instant, in the series' zone). */
function instanceAt(c: CompiledSeries, o: Occurrence): Instance {
  if (c.allDay) {
    const zdt = o.zdt;
    const date = zdt.toPlainDate();
    const endDate = date.add({ days: c.duration.days });
    return {
      recurrenceId: date.toString(),
      start: formatWithOffset(zdt),
      end: formatWithOffset(zonedStartOfDay(endDate, c.tz)),
      startLocal: date.toString(),
      endLocal: endDate.toString(),
    };
  }
  const startMs = o.startMs;
  const start = stamp(startMs, offsetMsAt(c.tz, startMs));
  const endMs = endMsOf(c, o);
  const end = endMs === startMs ? start : stamp(endMs, offsetMsAt(c.tz, endMs));
  return {
    recurrenceId: formatUtc(startMs),
    start: start.withOffset,
    end: end.withOffset,
    startLocal: start.local,
    endLocal: end.local,
  };
}

/** End instant of the instance starting at `o`: DTEND's exact length, or DURATION's calendar days then exact time. */
function endMsOf(c: CompiledSeries, o: Occurrence): number {
  const { days, ms } = c.duration;
  if (c.allDay) return zonedStartOfDay(o.zdt.toPlainDate().add({ days }), c.tz).epochMilliseconds;
  return (days === 0 ? o.startMs : o.zdt.add({ days }).epochMilliseconds) + ms;
}

/**
 * Expands a series into its instances that overlap a window, per RFC 5545
 * §3.8.5 (the recurrence set is DTSTART's RRULE instances plus RDATEs, minus
 * EXDATEs; duplicates count once).
 *
 * An instance overlaps `[from, to)` when it starts before `to` and ends after
 * `from`; an instance of zero length counts when it starts in `[from, to)`. So
 * an instance that began before `from` and is still running is listed.
 * See the module docstring (`index.ts`) for the DST, UNTIL and DTSTART policy.
 *
 * Work is bounded: the walk skips ahead for old open-ended rules, stops once
 * `limit` instances are certain, and runs under `maxIterations`.
 *
 * @param series the series (validated here; see {@link validateSeries}).
 * @param window `from` (inclusive) and `to` (exclusive) instants, `limit`.
 * @param limits overrides of the default limits.
 * @returns instances sorted by start instant, and whether more exist.
 * @throws AppError Invalid (BAD_REQUEST) for an invalid series or window, or
 *   when the expansion exceeds its iteration budget.
 */
export function expandSeries(series: Series, window: ExpandWindow, limits?: Partial<RecurrenceLimits>): ExpandResult {
  const L = resolveLimits(limits);
  const c = limits === undefined ? compiledWithDefaults(series, L) : compileSeries(series, L);
  if (typeof window !== 'object' || window === null) throw invalid('window must be an object with from and to');
  const fromMs = parseInstant(window.from, 'window from');
  const toMs = parseInstant(window.to, 'window to');
  if (toMs <= fromMs) throw invalid('window to must be after from');
  const limit = window.limit ?? L.defaultLimit;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > L.maxLimit) {
    throw invalid(`limit must be a whole number from 1 to ${L.maxLimit} (got ${String(limit)})`);
  }
  return collect(c, L, fromMs, toMs, limit);
}

/*
 * Compiled series under the default limits, by their fields: a listing expands each
 * series a chunk at a time, and compiling (parsing the rule, the zone, the dates) cost
 * as much as expanding a chunk. Compiled series are never changed once made, and never
 * leave this module; one that fails to compile is not kept (it throws each time).
 */
const compiledSeries = new Map<string, CompiledSeries>();
const COMPILED_SERIES_KEPT = 5_000;

function compiledWithDefaults(series: Series, L: RecurrenceLimits): CompiledSeries {
  if (typeof series !== 'object' || series === null) return compileSeries(series, L);
  const key = JSON.stringify([series.start, series.tzid, series.allDay, series.end, series.duration, series.rrule, series.exdates, series.rdates]);
  let c = compiledSeries.get(key);
  if (!c) {
    c = compileSeries(series, L);
    setBounded(compiledSeries, key, c, COMPILED_SERIES_KEPT);
  }
  return c;
}

/**
 * The expansion proper, on a compiled series and a checked window: `fromMs`
 * and `toMs` are epoch milliseconds, `limit` the most instances returned (not
 * checked against `maxLimit`; splitSeries asks for more). Same result and
 * errors as {@link expandSeries}.
 */
export function collect(c: CompiledSeries, L: RecurrenceLimits, fromMs: number, toMs: number, limit: number): ExpandResult {
  const overlaps = (startMs: number, endMs: number) => startMs < toMs && (endMs > fromMs || startMs >= fromMs);
  const found = new Map<number, Occurrence>();
  const consider = (o: Occurrence): boolean => {
    const startMs = o.startMs;
    if (found.has(startMs) || c.exdates.has(startMs) || !overlaps(startMs, endMsOf(c, o))) return false;
    found.set(startMs, o);
    return true;
  };
  const listed = (zdt: Temporal.ZonedDateTime) => new Occurrence(Number.NaN, zdt.epochMilliseconds, c.tz, zdt);

  if (c.rule) {
    // Nominal wall-clock bounds of the walk. An instance can overlap the window only if it starts after
    // `earliest` (the window start minus the instance length) and before `to`; near an instant its nominal
    // wall-clock start is within transitionSlackMs of that instant's wall-clock time (see time.ts).
    const { days, ms } = c.duration;
    const earliest = days === 0 ? fromMs - ms : zonedAt(fromMs - ms, c.tz).subtract({ days }).epochMilliseconds;
    const slack = (at: number) => transitionSlackMs(c.tz, at);
    const wallOf = (at: number) => at + offsetMsAt(c.tz, at);
    let inWindow = 0;
    let latestStartMs = Number.NEGATIVE_INFINITY;
    let stopAfterWallMs = Number.POSITIVE_INFINITY;
    walkRule(c, c.rule, L, {
      lowWallMs: wallOf(earliest) - 3 * (slack(earliest) + slack(fromMs)) - 1000,
      highWallMs: wallOf(toMs) + slack(toMs),
      visit: (o) => {
        if (o.nominalMs > stopAfterWallMs) return false;
        if (!consider(o)) return true;
        latestStartMs = Math.max(latestStartMs, o.startMs);
        // With limit + 1 instances in hand, only an instance starting before the latest of them could still
        // displace one, and its nominal start is at most wall(latest) + slack.
        if (++inWindow === limit + 1) stopAfterWallMs = wallOf(latestStartMs) + slack(latestStartMs);
        return true;
      },
    });
  } else {
    consider(listed(c.allDay ? zonedStartOfDay(c.start.toPlainDate(), c.tz) : zonedFromWallClock(c.start, c.tz)));
  }
  for (const rdate of c.rdates) consider(listed(rdate.zdt));

  const starts = [...found.keys()].sort((a, b) => a - b);
  return {
    instances: starts.slice(0, limit).map((ms) => instanceAt(c, found.get(ms)!)),
    truncated: starts.length > limit,
  };
}
