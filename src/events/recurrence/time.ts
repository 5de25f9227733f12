import { Temporal } from 'temporal-polyfill';
import { invalid } from '../../errors.js';

/*
 * Wall-clock and instant values at the edge of the recurrence engine: parsing
 * what clients send, resolving time zones, and the one place where a local
 * time becomes an instant (the DST gap/fold policy).
 */

const DAY_MS = 86_400_000;

/** Earliest and latest instants accepted anywhere (years 0001 to 9999, as in iCalendar). */
const EARLIEST_MS = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

const LOCAL_EXTENDED = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const LOCAL_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$/;
const DATE_EXTENDED = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_BASIC = /^(\d{4})(\d{2})(\d{2})$/;
const INSTANT_EXTENDED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;
const INSTANT_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/i;

/** Longest date/time string looked at; anything longer is refused unparsed. */
const MAX_VALUE_LENGTH = 40;

function show(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  return JSON.stringify(value.length > MAX_VALUE_LENGTH ? `${value.slice(0, MAX_VALUE_LENGTH)}…` : value);
}

/**
 * Parses a wall-clock date-time with no zone: `YYYY-MM-DDTHH:mm[:ss]`, or the
 * iCalendar basic form `YYYYMMDDTHHMMSS` (RFC 5545 §3.3.5, "form #1").
 * @throws AppError Invalid naming `field` when malformed or not a real date.
 */
export function parseLocalDateTime(value: unknown, field: string): Temporal.PlainDateTime {
  const m = typeof value === 'string' && value.length <= MAX_VALUE_LENGTH
    ? (LOCAL_EXTENDED.exec(value) ?? LOCAL_BASIC.exec(value))
    : null;
  if (!m) {
    throw invalid(`${field} must be a local date-time like 2026-03-08T09:00:00 (got ${show(value)})`);
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map((part) => Number(part ?? '0'));
  try {
    if (year === 0) throw new RangeError('year 0');
    return Temporal.PlainDateTime.from(
      { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! },
      { overflow: 'reject' },
    );
  } catch {
    throw invalid(`${field} is not a real date-time (got ${show(value)})`);
  }
}

/**
 * Parses a calendar date: `YYYY-MM-DD`, or the iCalendar basic form `YYYYMMDD`
 * (RFC 5545 §3.3.4).
 * @throws AppError Invalid naming `field` when malformed or not a real date.
 */
export function parseDate(value: unknown, field: string): Temporal.PlainDate {
  const m = typeof value === 'string' && value.length <= MAX_VALUE_LENGTH
    ? (DATE_EXTENDED.exec(value) ?? DATE_BASIC.exec(value))
    : null;
  if (!m) throw invalid(`${field} must be a date like 2026-03-08 (got ${show(value)})`);
  const [year, month, day] = m.slice(1).map(Number);
  try {
    if (year === 0) throw new RangeError('year 0');
    return Temporal.PlainDate.from({ year: year!, month: month!, day: day! }, { overflow: 'reject' });
  } catch {
    throw invalid(`${field} is not a real date (got ${show(value)})`);
  }
}

/** True when `value` carries its own offset or `Z`, i.e. names an instant rather than a wall-clock time. */
export function looksLikeInstant(value: string): boolean {
  return INSTANT_EXTENDED.test(value) || INSTANT_BASIC.test(value);
}

/**
 * Parses an instant: a `Date`, or an RFC 3339 string with `Z` or an offset
 * (`2026-03-08T14:00:00Z`, `2026-03-08T09:00:00-05:00`), or the iCalendar UTC
 * form `20260308T140000Z` (RFC 5545 §3.3.5, "form #2").
 * @returns epoch milliseconds, within years 0001–9999.
 * @throws AppError Invalid naming `field` when malformed or out of range.
 */
export function parseInstant(value: unknown, field: string): number {
  let ms: number;
  if (value instanceof Date) {
    ms = value.getTime();
  } else if (typeof value === 'string' && value.length <= MAX_VALUE_LENGTH && looksLikeInstant(value)) {
    const basic = INSTANT_BASIC.exec(value);
    const text = basic ? `${basic[1]}-${basic[2]}-${basic[3]}T${basic[4]}:${basic[5]}:${basic[6]}Z` : value;
    try {
      ms = Temporal.Instant.from(text).epochMilliseconds;
    } catch {
      ms = Number.NaN;
    }
  } else {
    throw invalid(`${field} must be an instant like 2026-03-08T14:00:00Z or a Date (got ${show(value)})`);
  }
  if (!Number.isFinite(ms) || ms < EARLIEST_MS || ms > LATEST_MS) {
    throw invalid(`${field} is not a valid instant between years 0001 and 9999 (got ${show(value)})`);
  }
  return ms;
}

/**
 * Resolves an IANA time zone name (RFC 5545 §3.2.19 TZID, as the IANA database
 * spells it: `America/New_York`, `Europe/Berlin`, `UTC`).
 * @returns the zone id as Temporal normalizes it.
 * @throws AppError Invalid for anything else, including bare offsets like `+02:00`.
 */
export function resolveTimeZone(tzid: unknown): string {
  if (typeof tzid !== 'string' || tzid.length === 0 || tzid.length > 64 || /^[+\-\d]/.test(tzid)) {
    throw invalid(`unknown time zone ${show(tzid)}; use an IANA name like "Europe/Berlin"`);
  }
  try {
    return Temporal.ZonedDateTime.from({ year: 2000, month: 1, day: 1, timeZone: tzid }).timeZoneId;
  } catch {
    throw invalid(`unknown time zone ${show(tzid)}; use an IANA name like "Europe/Berlin"`);
  }
}

/**
 * The gap/fold policy in one call. A wall-clock time that does not exist (the
 * spring-forward gap) moves forward by the length of the gap; one that occurs
 * twice (the fall-back fold) takes its first occurrence, the earlier offset.
 * This is RFC 5545 §3.3.5's reading of a DATE-TIME with TZID, and Temporal's
 * `compatible` disambiguation.
 */
export function zonedFromWallClock(wall: Temporal.PlainDateTime, tz: string): Temporal.ZonedDateTime {
  return wall.toZonedDateTime(tz, { disambiguation: 'compatible' });
}

/** Start of a calendar day in a zone (00:00, or the first instant after a gap at midnight). */
export function zonedStartOfDay(date: Temporal.PlainDate, tz: string): Temporal.ZonedDateTime {
  return date.toZonedDateTime({ timeZone: tz });
}

/**
 * How far wall-clock time near an instant can stray from a steady clock: the
 * sum of the offset changes (DST and other transitions) within three days
 * either side of `epochMs`, in milliseconds. Zero for UTC and other fixed
 * zones. An instance starting within three days of the instant has a nominal
 * wall-clock start within this distance of `wall(instant) + (start − instant)`.
 */
export function transitionSlackMs(tz: string, epochMs: number): number {
  const radius = 3 * DAY_MS;
  let span = spanAt(tz, epochMs - radius);
  let slack = 0;
  for (let i = 0; i < 16; i++) {
    if (span.to > epochMs + radius) return slack;
    const next = spanAt(tz, span.to);
    slack += Math.abs(next.offset - span.offset);
    span = next;
  }
  return radius; // more transitions than any real zone has in a week: fall back to a bound that always holds
}

/** `YYYY-MM-DDTHH:mm:ss`. */
export function formatLocal(wall: Temporal.PlainDateTime): string {
  return wall.toString({ smallestUnit: 'second' });
}

const pad2 = (n: number) => String(n).padStart(2, '0');

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/**
 * `YYYY-MM-DDTHH:mm:ss` of a time-line millisecond (whole seconds; sub-second parts are
 * dropped), as `Date#toISOString` writes it: the civil date by integer arithmetic
 * (H. Hinnant's days-to-civil), the hot path of every listed instance.
 */
export function isoSeconds(ms: number): string {
  const secs = Math.floor(ms / 1000);
  const days = Math.floor(secs / 86_400);
  const rem = secs - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 1 || year > 9999) return wallFromMs(ms).toString({ smallestUnit: 'second' });
  const hh = Math.floor(rem / 3600);
  const mi = Math.floor((rem % 3600) / 60);
  return `${TWO_DIGITS[Math.floor(year / 100)]}${TWO_DIGITS[year % 100]}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hh]}:${TWO_DIGITS[mi]}:${TWO_DIGITS[rem % 60]}`;
}

/**
 * An instant as RFC 3339 with a given offset, `Z` when the offset is zero;
 * and the wall-clock time at that offset. Offsets with seconds (local mean
 * time before ~1900) cannot be written in RFC 3339, so those instants are
 * written in UTC instead.
 */
export function stamp(epochMs: number, offsetMs: number): { withOffset: string; local: string } {
  const local = isoSeconds(epochMs + offsetMs);
  if (offsetMs === 0) return { withOffset: `${local}Z`, local };
  if (offsetMs % 60_000 !== 0) return { withOffset: `${isoSeconds(epochMs)}Z`, local };
  const minutes = Math.abs(offsetMs) / 60_000;
  const sign = offsetMs < 0 ? '-' : '+';
  return { withOffset: `${local}${sign}${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}`, local };
}

/** RFC 3339 with the zone's offset at that instant (`2026-03-08T09:00:00-04:00`; `Z` at offset zero); see {@link stamp}. */
export function formatWithOffset(zdt: Temporal.ZonedDateTime): string {
  return stamp(zdt.epochMilliseconds, zdt.offsetNanoseconds / 1e6).withOffset;
}

/** `YYYY-MM-DDTHH:mm:ssZ` (whole seconds; sub-second parts are dropped). */
export function formatUtc(epochMs: number): string {
  return `${isoSeconds(epochMs)}Z`;
}

/** Floating (zone-less) wall-clock time as milliseconds on a UTC time line, for ordering and arithmetic. */
export function wallMs(wall: Temporal.PlainDateTime): number {
  return wall.toZonedDateTime('UTC').epochMilliseconds;
}

/** Inverse of {@link wallMs}. */
export function wallFromMs(ms: number): Temporal.PlainDateTime {
  const d = new Date(ms);
  return new Temporal.PlainDateTime(
    d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(),
    d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds(),
  );
}

/** An instant seen in `tz`. */
export function zonedAt(epochMs: number, tz: string): Temporal.ZonedDateTime {
  return Temporal.Instant.fromEpochMilliseconds(epochMs).toZonedDateTimeISO(tz);
}

/** Spans of constant offset per zone, `[from, to)` in epoch ms, sorted and disjoint; see {@link offsetMsAt}. */
const offsetSpans = new Map<string, { from: number; to: number; offset: number }[]>();
const OFFSET_SPANS_PER_ZONE = 10_000;

/**
 * The UTC offset of `tz` at an instant, in milliseconds: the same as
 * `zonedAt(epochMs, tz).offsetNanoseconds / 1e6`, read from the span between the zone's
 * transitions around the instant, which is looked up once (Temporal's
 * getTimeZoneTransition) and kept per zone; so a series' thousandth instance costs a
 * binary search, not a tzdata lookup in the Temporal polyfill.
 */
export function offsetMsAt(tz: string, epochMs: number): number {
  return spanAt(tz, epochMs).offset;
}

/** The span of constant offset of `tz` holding the instant (see {@link offsetMsAt}). */
function spanAt(tz: string, epochMs: number): { from: number; to: number; offset: number } {
  let spans = offsetSpans.get(tz);
  if (!spans || spans.length >= OFFSET_SPANS_PER_ZONE) offsetSpans.set(tz, (spans = []));
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid]!.to <= epochMs) lo = mid + 1;
    else hi = mid;
  }
  const known = spans[lo];
  if (known && known.from <= epochMs) return known;
  const zdt = zonedAt(epochMs, tz);
  // 'previous' is strictly before its instant: asked from just after `epochMs`, it is `epochMs` itself when a transition falls there.
  const previous = zdt.add({ nanoseconds: 1 }).getTimeZoneTransition('previous');
  const next = zdt.getTimeZoneTransition('next');
  const span = {
    from: previous ? previous.epochMilliseconds : Number.NEGATIVE_INFINITY,
    to: next ? next.epochMilliseconds : Number.POSITIVE_INFINITY,
    offset: zdt.offsetNanoseconds / 1e6,
  };
  spans.splice(lo, 0, span);
  return span;
}

/**
 * {@link zonedFromWallClock}'s instant (epoch ms) of a wall-clock time given as floating
 * ms ({@link wallMs}), from the offset spans: with one offset within a day either side,
 * `wall - offset`; with one transition, the valid reading, the earlier one in a fold and
 * the one shifted forward by the gap in a gap (Temporal's 'compatible'); with more than
 * one transition within two days, Temporal itself.
 */
export function instantOfWall(tz: string, wall: number): number {
  const before = spanAt(tz, wall - DAY_MS);
  if (before.to > wall + DAY_MS) return wall - before.offset;
  const after = spanAt(tz, before.to);
  if (after.to <= wall + DAY_MS) return zonedFromWallClock(wallFromMs(wall), tz).epochMilliseconds;
  const early = wall - before.offset;
  const late = wall - after.offset;
  const earlyValid = early < before.to;
  const lateValid = late >= before.to;
  if (earlyValid && lateValid) return Math.min(early, late);
  if (lateValid) return late;
  return early; // valid, or in the gap: read with the offset before it, which moves it forward by the gap
}

/** Wall-clock time in `tz` at an instant. */
export function wallAt(epochMs: number, tz: string): Temporal.PlainDateTime {
  return Temporal.Instant.fromEpochMilliseconds(epochMs).toZonedDateTimeISO(tz).toPlainDateTime();
}

/**
 * Converts a wall-clock time in an IANA zone to an instant, applying the
 * engine's DST policy (RFC 5545 §3.3.5): a time in a spring-forward gap shifts
 * forward by the gap (`2026-03-08T02:30` in America/New_York is 03:30 EDT), a
 * time in a fall-back fold takes the earlier offset (`2026-11-01T01:30` is
 * 01:30 EDT, -04:00).
 *
 * @param local `YYYY-MM-DDTHH:mm[:ss]` (or `YYYYMMDDTHHMMSS`), no offset.
 * @param tzid IANA time zone name.
 * @returns RFC 3339 with the zone's offset, `Z` when it is zero.
 * @throws AppError Invalid for a malformed `local` or an unknown `tzid`.
 */
export function wallClockToInstant(local: string, tzid: string): string {
  const tz = resolveTimeZone(tzid);
  return formatWithOffset(zonedFromWallClock(parseLocalDateTime(local, 'local time'), tz));
}

export { DAY_MS };
