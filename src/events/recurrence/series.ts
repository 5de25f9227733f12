import type { Temporal } from 'temporal-polyfill';
import { invalid } from '../../errors.js';
import { resolveLimits, type RecurrenceLimits } from './limits.js';
import { formatRRule, parseRRule, type RRule } from './rrule.js';
import {
  DAY_MS,
  formatUtc,
  looksLikeInstant,
  parseDate,
  parseInstant,
  parseLocalDateTime,
  resolveTimeZone,
  zonedAt,
  zonedFromWallClock,
  zonedStartOfDay,
} from './time.js';

/**
 * A recurring event as the engine sees it (RFC 5545 §3.8.5: DTSTART, DTEND or
 * DURATION, RRULE, EXDATE, RDATE).
 */
export interface Series {
  /**
   * DTSTART. Timed: wall-clock `YYYY-MM-DDTHH:mm[:ss]` in `tzid` (no offset).
   * All-day: a date `YYYY-MM-DD`. The iCalendar basic forms (`19970902T090000`,
   * `19970902`) are accepted too.
   */
  start: string;
  /**
   * IANA time zone. Required for a timed series. For an all-day series it only
   * places the days on the time line for window tests and instants (default UTC).
   */
  tzid?: string | null;
  /** True for an all-day series (DTSTART;VALUE=DATE). */
  allDay?: boolean;
  /**
   * DTEND, in the same form as `start`; for all-day the exclusive end date.
   * Every instance gets the same exact duration, DTEND − DTSTART (RFC 5545 §3.8.5.3).
   * Give `end` or `duration`, not both.
   */
  end?: string | null;
  /**
   * DURATION as RFC 5545 §3.3.6 / ISO 8601 (`PT1H30M`, `P1D`, `P1W`): days and
   * weeks are nominal (a day is a calendar day, 23 or 25 hours across DST), the
   * time part exact. All-day series take whole days only.
   * Default when neither is given: zero for timed, one day for all-day (RFC 5545 §3.6.1).
   */
  duration?: string | null;
  /** RRULE value (RFC 5545 §3.3.10), e.g. `FREQ=WEEKLY;BYDAY=MO`. None: DTSTART plus RDATEs only. */
  rrule?: string | null;
  /**
   * EXDATEs (RFC 5545 §3.8.5.1): excluded original starts. Wall-clock values in
   * `tzid` like `start`, or instants with `Z`/offset; dates for all-day.
   */
  exdates?: readonly string[] | null;
  /** RDATEs (RFC 5545 §3.8.5.2): extra starts, in the same forms as `exdates`. */
  rdates?: readonly string[] | null;
}

/** A validated series in canonical form, as the events service stores it. */
export interface NormalizedSeries {
  allDay: boolean;
  /** `YYYY-MM-DDTHH:mm:ss` (timed) or `YYYY-MM-DD` (all-day). */
  start: string;
  /** Normalized IANA id (`UTC` for an all-day series given none). */
  tzid: string;
  /**
   * RFC 5545 §3.3.6 duration. An `end` becomes an exact duration in hours,
   * minutes and seconds (`PT25H`); a given duration keeps its nominal days (`P1DT2H`).
   */
  duration: string;
  /** Canonical RRULE text, or null. */
  rrule: string | null;
  /** Sorted, deduplicated: UTC instants `YYYY-MM-DDTHH:mm:ssZ` (timed) or dates (all-day). */
  exdates: string[];
  /** Same form as `exdates`. */
  rdates: string[];
}

/** Instance length: exact milliseconds, or nominal days plus exact milliseconds. */
export interface CompiledDuration {
  days: number;
  ms: number;
}

/** A start listed by RDATE, as an instant in the series' zone. */
export interface ListedStart {
  zdt: Temporal.ZonedDateTime;
}

/** Everything the expansion needs, parsed once. */
export interface CompiledSeries {
  allDay: boolean;
  tz: string;
  /** Nominal wall-clock DTSTART (00:00 for all-day). */
  start: Temporal.PlainDateTime;
  duration: CompiledDuration;
  /** Upper bound of any instance's exact length, for looking back from a window. */
  durationUpperMs: number;
  rule: RRule | null;
  /** Start instants (epoch ms) removed by EXDATE. */
  exdates: Set<number>;
  rdates: ListedStart[];
  normalized: NormalizedSeries;
}

const DURATION = /^([+-])?P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?=\d)(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?$/i;

function parseDuration(value: string, allDay: boolean, maxDays: number): CompiledDuration {
  const m = value.length <= 40 ? DURATION.exec(value) : null;
  if (!m || value.replace(/^[+-]/, '').toUpperCase() === 'P') {
    throw invalid(`duration must be an RFC 5545 duration like PT1H30M or P1D (got ${JSON.stringify(value.slice(0, 40))})`);
  }
  if (m[1] === '-') throw invalid(`duration must not be negative (got ${value})`);
  const [weeks, days, hours, minutes, seconds] = m.slice(2).map((p) => Number(p ?? '0'));
  const d = weeks! * 7 + days!;
  const ms = ((hours! * 60 + minutes!) * 60 + seconds!) * 1000;
  if (allDay && (ms !== 0 || d === 0)) {
    throw invalid(`an all-day series needs a duration of whole days, at least P1D (got ${value})`);
  }
  if (d + ms / DAY_MS > maxDays) throw invalid(`duration must be at most ${maxDays} days (got ${value})`);
  return { days: d, ms };
}

/** RFC 5545 §3.3.6 text of a duration: `P1DT2H`, `PT1H30M`, `PT0S`. */
export function formatDuration({ days, ms }: CompiledDuration): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const min = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const time = `${h ? `${h}H` : ''}${min ? `${min}M` : ''}${s ? `${s}S` : ''}`;
  if (days === 0 && time === '') return 'PT0S';
  return `P${days ? `${days}D` : ''}${time ? `T${time}` : ''}`;
}

function listedStarts(
  values: readonly string[] | null | undefined,
  field: 'exdates' | 'rdates',
  max: number,
  allDay: boolean,
  tz: string,
): Temporal.ZonedDateTime[] {
  if (values === null || values === undefined) return [];
  if (!Array.isArray(values)) throw invalid(`${field} must be an array`);
  if (values.length > max) throw invalid(`${field} has ${values.length} values; the limit is ${max}`);
  const name = field === 'exdates' ? 'EXDATE' : 'RDATE';
  return values.map((v: unknown, i) => {
    const label = `${name} ${i + 1}`;
    if (allDay) return zonedStartOfDay(parseDate(v, label), tz);
    if (typeof v === 'string' && looksLikeInstant(v)) {
      const ms = parseInstant(v, label);
      if (ms % 1000 !== 0) throw invalid(`${label} must be in whole seconds (got ${JSON.stringify(v)})`);
      return zonedAt(ms, tz);
    }
    return zonedFromWallClock(parseLocalDateTime(v, label), tz);
  });
}

/**
 * Validates a series and compiles it for expansion. Internal; the public face
 * is {@link validateSeries}.
 * @throws AppError Invalid (BAD_REQUEST) naming the field at fault.
 */
export function compileSeries(series: Series, limits: RecurrenceLimits): CompiledSeries {
  if (typeof series !== 'object' || series === null) throw invalid('series must be an object');
  const allDay = series.allDay === true;
  if (!allDay && (series.tzid === null || series.tzid === undefined)) {
    throw invalid('tzid is required for a timed series; use an IANA name like "Europe/Berlin"');
  }
  const tz = resolveTimeZone(series.tzid ?? 'UTC');

  const startDate = allDay ? parseDate(series.start, 'start') : null;
  const start = startDate ? startDate.toPlainDateTime() : parseLocalDateTime(series.start, 'start');

  const hasEnd = series.end !== null && series.end !== undefined;
  const hasDuration = series.duration !== null && series.duration !== undefined;
  if (hasEnd && hasDuration) throw invalid('give end or duration, not both');
  let duration: CompiledDuration;
  if (hasEnd) {
    if (startDate) {
      const end = parseDate(series.end, 'end');
      const days = startDate.until(end, { largestUnit: 'days' }).days;
      if (days <= 0) {
        throw invalid(`end (${end.toString()}) must be after start (${startDate.toString()}); an all-day end date is exclusive`);
      }
      if (days > limits.maxDurationDays) throw invalid(`an instance may last at most ${limits.maxDurationDays} days (got ${days})`);
      duration = { days, ms: 0 };
    } else {
      const end = parseLocalDateTime(series.end, 'end');
      const ms = zonedFromWallClock(end, tz).epochMilliseconds - zonedFromWallClock(start, tz).epochMilliseconds;
      if (ms < 0) throw invalid(`end (${end.toString()}) is before start (${start.toString()})`);
      if (ms > limits.maxDurationDays * DAY_MS) {
        throw invalid(`an instance may last at most ${limits.maxDurationDays} days`);
      }
      duration = { days: 0, ms };
    }
  } else if (hasDuration) {
    if (typeof series.duration !== 'string') throw invalid('duration must be a string like PT1H');
    duration = parseDuration(series.duration, allDay, limits.maxDurationDays);
  } else {
    duration = allDay ? { days: 1, ms: 0 } : { days: 0, ms: 0 };
  }

  let rule: RRule | null = null;
  if (series.rrule !== null && series.rrule !== undefined && series.rrule !== '') {
    rule = parseRRule(series.rrule, limits);
    if (allDay) {
      if (rule.freq === 'HOURLY' || rule.freq === 'MINUTELY' || rule.freq === 'SECONDLY') {
        throw invalid(`RRULE FREQ=${rule.freq} cannot repeat an all-day series; use DAILY or longer`);
      }
      if (rule.byHour.length + rule.byMinute.length + rule.bySecond.length > 0) {
        throw invalid('RRULE BYHOUR, BYMINUTE and BYSECOND cannot be used with an all-day series');
      }
    }
  }

  const exdates = listedStarts(series.exdates, 'exdates', limits.maxExdates, allDay, tz);
  const rdates = listedStarts(series.rdates, 'rdates', limits.maxRdates, allDay, tz);
  const listed = (zdts: Temporal.ZonedDateTime[]) =>
    [...new Set(zdts.map((z) => (allDay ? z.toPlainDate().toString() : formatUtc(z.epochMilliseconds))))].sort();

  return {
    allDay,
    tz,
    start,
    duration,
    durationUpperMs: duration.days * 25 * 3_600_000 + duration.ms,
    rule,
    exdates: new Set(exdates.map((z) => z.epochMilliseconds)),
    rdates: rdates.map((zdt) => ({ zdt })),
    normalized: {
      allDay,
      start: startDate ? startDate.toString() : start.toString({ smallestUnit: 'second' }),
      tzid: tz,
      duration: formatDuration(duration),
      rrule: rule ? formatRRule(rule) : null,
      exdates: listed(exdates),
      rdates: listed(rdates),
    },
  };
}

/**
 * Validates a series and returns its canonical form: what the events service
 * checks and stores on create and update.
 *
 * Checks: `start` is a real date-time (or date when `allDay`); `tzid` is a
 * known IANA zone (required unless all-day); `end` is not before `start` (after
 * it, for all-day, where it is exclusive); `duration` is a non-negative RFC 5545
 * §3.3.6 duration, whole days for all-day; neither exceeds `maxDurationDays`;
 * the RRULE passes {@link parseRRule}, and an all-day series uses neither
 * HOURLY/MINUTELY/SECONDLY nor BYHOUR/BYMINUTE/BYSECOND; at most `maxExdates`
 * EXDATEs and `maxRdates` RDATEs, each a valid value.
 *
 * @param series the series as given by a client.
 * @param limits overrides of the default limits.
 * @throws AppError Invalid (BAD_REQUEST) naming the field at fault.
 */
export function validateSeries(series: Series, limits?: Partial<RecurrenceLimits>): NormalizedSeries {
  return compileSeries(series, resolveLimits(limits)).normalized;
}
