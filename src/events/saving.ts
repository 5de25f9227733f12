import { Temporal } from 'temporal-polyfill';
import { invalid } from '../errors.js';
import { DEFAULT_LIMITS, expandSeries, parseRRule, WEEKDAYS, type NormalizedSeries, type RRule } from './recurrence/index.js';
import { parseInstant, parseLocalDateTime, zonedFromWallClock } from './recurrence/time.js';

/*
 * Checks made when a series is saved (create, update, split, import), beyond the
 * engine's own validation: rules that could be stored but never listed are refused
 * here, with a message saying why, instead of failing every later listing.
 */

const UNIT_S: Partial<Record<RRule['freq'], number>> = { SECONDLY: 1, MINUTELY: 60, HOURLY: 3600 };

/** Days of a 4-year span (a leap cycle, from `year`) that pass the rule's day-level filters. */
function allowedDays(rule: RRule, year: number): number[] {
  const out: number[] = [];
  let d = Temporal.PlainDate.from({ year, month: 1, day: 1 });
  const weekdays = new Set(rule.byDay.map((x) => WEEKDAYS.indexOf(x.weekday) + 1));
  for (let i = 0; i < 1461; i++, d = d.add({ days: 1 })) {
    if (rule.byMonth.length && !rule.byMonth.includes(d.month)) continue;
    if (rule.byMonthDay.length && !rule.byMonthDay.some((m) => m === d.day || m === d.day - d.daysInMonth - 1)) continue;
    if (rule.byYearDay.length && !rule.byYearDay.some((y) => y === d.dayOfYear || y === d.dayOfYear - d.daysInYear - 1)) continue;
    if (weekdays.size && !weekdays.has(d.dayOfWeek)) continue;
    out.push(i);
  }
  return out;
}

/** Largest distance between consecutive allowed values on a cycle of `size` (`size` when one value). */
function cyclicGap(values: number[], size: number): number {
  if (values.length === 0) return 1;
  const v = [...values].sort((a, b) => a - b);
  let gap = v[0]! + size - v.at(-1)!;
  for (let i = 1; i < v.length; i++) gap = Math.max(gap, v[i]! - v[i - 1]!);
  return gap;
}

/**
 * The longest stretch, in seconds, without an instance that the BYxxx filters of a
 * sub-daily rule allow: the longest run of excluded days (over a leap cycle), or of
 * excluded hours, minutes or seconds. A lower bound of the real longest gap.
 */
export function longestGapSeconds(rule: RRule, year: number): number {
  const unit = UNIT_S[rule.freq]!;
  const days = allowedDays(rule, year);
  let dayGap = days.length === 0 ? 1461 : cyclicGap(days, 1461);
  if (rule.byMonth.length === 0 && rule.byMonthDay.length === 0 && rule.byYearDay.length === 0 && rule.byDay.length === 0) dayGap = 1;
  const hourGap = unit <= 3600 && rule.byHour.length ? cyclicGap(rule.byHour, 24) : 1;
  const minuteGap = unit <= 60 && rule.byMinute.length ? cyclicGap(rule.byMinute, 60) : 1;
  const secondGap = unit <= 1 && rule.bySecond.length ? cyclicGap(rule.bySecond, 60) : 1;
  return Math.max((dayGap - 1) * 86_400, (hourGap - 1) * 3600, (minuteGap - 1) * 60, secondGap - 1);
}

/**
 * Refuses a series whose instances cannot be listed within the engine's iteration
 * budget (`maxIterations` periods per expansion): a sub-daily rule (HOURLY, MINUTELY,
 * SECONDLY) whose filters leave a stretch of more than half the budget in periods
 * without an instance, such as `FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=0;…`
 * (one instance every four years, walked second by second), or
 * `FREQ=SECONDLY;BYHOUR=9` (23 hours, 82,800 periods, between two days' instances).
 * Also refuses an UNTIL before DTSTART (a rule with no instance at all).
 * @throws Invalid with the reason and what to use instead.
 */
export function checkListable(n: NormalizedSeries): void {
  if (!n.rrule) return;
  const rule = parseRRule(n.rrule);
  if (rule.until) {
    const before =
      rule.until.kind === 'date'
        ? rule.until.date < n.start.slice(0, 10)
        : parseInstant(rule.until.utc, 'UNTIL') < (n.allDay ? Date.parse(`${n.start}T00:00:00Z`) : zonedFromWallClock(parseLocalDateTime(n.start, 'start'), n.tzid).epochMilliseconds);
    if (before) {
      throw invalid(`the RRULE's UNTIL is before the start (${n.start}), so the series has no instance; set UNTIL on or after the start, or remove it`);
    }
  }
  const unit = UNIT_S[rule.freq];
  if (unit === undefined) return;
  const year = Number(n.start.slice(0, 4));
  const gapPeriods = longestGapSeconds(rule, year) / (unit * rule.interval);
  const budget = DEFAULT_LIMITS.maxIterations / 2;
  if (gapPeriods > budget) {
    const every = { SECONDLY: 'second', MINUTELY: 'minute', HOURLY: 'hour' }[rule.freq as 'SECONDLY'];
    throw invalid(
      `this RRULE repeats every ${rule.interval > 1 ? `${rule.interval} ${every}s` : every} but its BY… parts leave up to ` +
        `${Math.round(gapPeriods).toLocaleString('en')} ${every}s without an instance, more than the ${budget.toLocaleString('en')} a listing may step through; ` +
        'use a coarser FREQ for the same instances (FREQ=DAILY with BYHOUR, or FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29 rather than FREQ=SECONDLY with those parts)',
    );
  }
}

/**
 * Refuses a rule that matches no date from its start to HORIZON_YEAR, such as
 * `FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30` or `BYMONTHDAY=31;BYMONTH=4,6,9,11`: the series
 * would be stored and never listed. RFC 5545 (§3.3.10) skips invalid dates such as
 * February 30 rather than moving them; Google Calendar does the same. A series with an
 * RDATE has an instance and is accepted. Call after checkListable and checkHorizon.
 * @throws Invalid naming `rrule`.
 */
export function checkHasInstance(n: NormalizedSeries): void {
  if (!n.rrule || n.rdates.length > 0) return;
  const from = `${n.start.slice(0, 10)}T00:00:00Z`;
  const to = `${HORIZON_YEAR + 1}-01-01T00:00:00Z`;
  const r = expandSeries({ ...n, end: null }, { from: new Date(Date.parse(from) - 2 * 86_400_000), to, limit: 1 });
  if (r.instances.length === 0 && !r.truncated) {
    throw invalid(
      `rrule: this rule matches no date from the start (${n.start}) to year ${HORIZON_YEAR}, so the series would never show; ` +
        'check that BYMONTH and BYMONTHDAY name days that exist (February has at most 29 days, April, June, September and November 30)',
    );
  }
}

/** The latest year a calendar event may start, end its series (UNTIL) or add an instance (RDATE) in. */
const HORIZON_YEAR = 2200;

/**
 * Refuses dates past HORIZON_YEAR: a DTSTART or RDATE, or an RRULE UNTIL (such as
 * `UNTIL=99991231T235959Z`, a common way of writing "forever", which reached a time-zone
 * conversion out of range). A series with no end is written without UNTIL and COUNT.
 * (A COUNT whose last instance falls past the horizon is not refused: listings stop
 * where they are asked to.)
 * @throws Invalid naming the field (`rrule`, `start`, `rdates`).
 */
export function checkHorizon(n: NormalizedSeries): void {
  const year = (s: string) => Number(s.slice(0, 4));
  if (year(n.start) > HORIZON_YEAR) throw invalid(`start ${n.start} is past year ${HORIZON_YEAR}, the latest a calendar event may start in`);
  const late = n.rdates.find((d) => year(d) > HORIZON_YEAR);
  if (late) throw invalid(`rdates: ${late} is past year ${HORIZON_YEAR}, the latest an instance may start in`);
  if (!n.rrule) return;
  const until = parseRRule(n.rrule).until;
  const at = until === null ? null : until.kind === 'date' ? until.date : until.utc;
  if (at !== null && year(at) > HORIZON_YEAR) {
    throw invalid(
      `rrule: UNTIL ${at} is past year ${HORIZON_YEAR}, the latest a series may be given an end in; ` +
        'leave out UNTIL and COUNT for a series with no end, or set an UNTIL within the horizon',
    );
  }
}

/**
 * A DTSTART in a spring-forward gap (a wall-clock time that does not exist in the
 * zone): the time the engine shifts it to (RFC 5545 §3.3.5, forward by the gap), or
 * null when the time exists.
 */
export function shiftedStart(start: string, tz: string): string | null {
  const wall = parseLocalDateTime(start, 'start');
  const placed = zonedFromWallClock(wall, tz).toPlainDateTime();
  return placed.equals(wall) ? null : placed.toString({ smallestUnit: 'second' });
}
