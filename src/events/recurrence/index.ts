/**
 * The recurrence engine: one interface of ours over rrule-temporal that turns
 * a series (DTSTART as wall-clock time plus an IANA zone, or an all-day date; a
 * duration; an RRULE; EXDATEs; RDATEs) into instances, per RFC 5545 §3.3.10 and
 * §3.8.5. Pure: no database, no clock, no I/O.
 *
 * Policy
 * - Wall-clock time is kept across DST: a rule is evaluated on the series'
 *   local time, so 09:00 stays 09:00 in summer and winter (RFC 5545 §3.3.10).
 * - A local time that does not exist (the spring-forward gap) shifts forward by
 *   the length of the gap: 02:30 on a day that jumps from 02:00 to 03:00 is
 *   03:30; the next day is 02:30 again. (RFC 5545 §3.3.5's reading of a
 *   DATE-TIME with TZID. §3.3.10 also says such instances "MUST be ignored";
 *   we follow §3.3.5 so that no instance silently disappears.)
 * - A local time that occurs twice (the fall-back fold) takes its first
 *   occurrence, the earlier offset.
 * - The same two rules place EXDATE, RDATE and DTSTART values given as wall-clock time.
 * - Sub-daily rules (HOURLY, MINUTELY, SECONDLY) step through wall-clock time
 *   too, as python-dateutil does: across a fold the repeated hour occurs once;
 *   across a gap the shifted instance may coincide with the next one, and
 *   instances at the same instant count once (RFC 5545 §3.8.5.2).
 * - UNTIL in UTC is compared with instants and is inclusive. UNTIL as a DATE
 *   is the inclusive end of that day in the series' zone, for all-day series
 *   (as the RFC requires) and, leniently, for timed ones (Google Calendar
 *   exports such rules; RFC 5545 strictly requires a UTC UNTIL there).
 * - COUNT counts the rule's instances from DTSTART, before EXDATEs remove any
 *   and without RDATEs (RFC 5545 §3.8.5.3).
 * - Parts a rule leaves out come from DTSTART (RFC 5545 §3.3.10): the time of
 *   day, the weekday for WEEKLY, the day of the month for MONTHLY and YEARLY, the
 *   month for YEARLY, and the weekday for YEARLY with BYWEEKNO but no BYDAY.
 *   Dates that do not exist (February 30th) are skipped and not counted.
 * - A DTSTART that does not match its RRULE is not an instance (RFC 5545 calls
 *   that case undefined; this is python-dateutil's and rrule-temporal's
 *   reading). Without an RRULE, DTSTART is the one instance, plus RDATEs.
 * - EXDATE wins over RDATE and RRULE; values are matched as instants.
 * - Windows are tested for overlap: an instance is listed when it starts before
 *   `to` and ends after `from` (so one that started before `from` but is still
 *   running is in); a zero-length instance when it starts in `[from, to)`.
 * - Durations: DTEND gives every instance the same exact length; DURATION
 *   days are calendar days (RFC 5545 §3.8.5.3, §3.3.6).
 *
 * Refused (AppError Invalid → BAD_REQUEST), each with a message naming the part:
 * - RRULE parts outside RFC 5545 (RSCALE and SKIP from RFC 7529, X- parts),
 *   unknown or repeated parts, malformed values, FREQ other than the seven;
 * - INTERVAL that is not a whole number ≥ 1, or above `maxInterval` (1000);
 *   COUNT above `maxCount` (1000); an RRULE longer than `maxRRuleLength` (1000)
 *   characters, refused before it is parsed; more than `maxExdates` /
 *   `maxRdates` (500) values;
 * - a floating UNTIL (a DATE-TIME without Z): RFC 5545 forbids it with a zoned
 *   DTSTART and its reading would be a guess;
 * - BYSECOND=60: Temporal has no leap seconds, so the instance cannot be produced;
 * - FREQ=SECONDLY without COUNT or UNTIL;
 * - combinations RFC 5545 §3.3.10 forbids (COUNT with UNTIL, BYWEEKNO without
 *   YEARLY, BYDAY ordinals outside MONTHLY/YEARLY, …), and sub-daily frequencies
 *   or BYHOUR/BYMINUTE/BYSECOND on an all-day series;
 * - FREQ=YEARLY combinations that rrule-temporal 2.2.8 expands wrongly, found by
 *   comparing it with a brute-force RFC 5545 expansion on thousands of random
 *   rules: BYYEARDAY with BYDAY or BYMONTHDAY (it ignores BYDAY and does not
 *   intersect BYMONTHDAY); without BYMONTH, BYDAY ordinals with BYMONTHDAY (it
 *   ignores BYMONTHDAY) or ordinals mixed with plain weekdays (it drops the
 *   plain ones); BYWEEKNO with INTERVAL > 1 or BYSETPOS (it uses ISO
 *   week-years as periods, not calendar years), or with BYMONTHDAY or
 *   BYYEARDAY (wrong days). Every other combination agreed with the reference;
 * - unknown time zones, malformed dates, an end before the start, a negative
 *   duration, a window whose end is not after its start;
 * - an expansion that would advance through more than `maxIterations` (20000)
 *   recurrence periods. No input runs unbounded: rules whose INTERVAL can never
 *   meet their BYxxx filters, BYMONTHDAY days no allowed month has and BYSETPOS
 *   positions beyond any period are recognized as empty up front; open-ended
 *   rules skip ahead over their history; every walk stops at the window and
 *   once `limit` instances are certain;
 * - a "this and following" split whose halves would not reproduce the original
 *   instances exactly.
 * All 57 RFC 5545 vectors in test/fixtures/recurrence pass; none is refused.
 *
 * How rrule-temporal is used: only on floating (UTC) wall-clock time, since its
 * own DST handling omits instances that fall in a gap; through `all()` without
 * a callback (the callback form takes a path some forty times slower); and for
 * BYWEEKNO from a year before DTSTART, since it skips the January days that
 * belong to the previous ISO week-year when DTSTART is one of them.
 */
export { DEFAULT_LIMITS, resolveLimits, type RecurrenceLimits } from './limits.js';
export {
  FREQUENCIES,
  WEEKDAYS,
  formatRRule,
  normalizeRRule,
  parseRRule,
  type Frequency,
  type RRule,
  type Until,
  type Weekday,
  type WeekdayNum,
} from './rrule.js';
export { validateSeries, type NormalizedSeries, type Series } from './series.js';
export { expandSeries, type ExpandResult, type ExpandWindow, type Instance } from './expand.js';
export { splitSeries, type SeriesSplit } from './split.js';
export { wallClockToInstant } from './time.js';
