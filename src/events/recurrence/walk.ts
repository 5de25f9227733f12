import { RRuleTemporal } from 'rrule-temporal';
import { Temporal } from 'temporal-polyfill';
import { invalid } from '../../errors.js';
import type { RecurrenceLimits } from './limits.js';
import { WEEKDAYS, formatWeekdayNum, type Frequency, type RRule } from './rrule.js';
import type { CompiledSeries } from './series.js';
import { DAY_MS, instantOfWall, transitionSlackMs, wallAt, wallFromMs, wallMs, zonedAt, zonedStartOfDay } from './time.js';

/*
 * Walking an RRULE's instances through rrule-temporal.
 *
 * The rule is evaluated on floating wall-clock time: DTSTART's wall-clock
 * fields are handed to the library in UTC, where no day is 23 or 25 hours long,
 * so every generated wall-clock time is the rule's own answer (RFC 5545 §3.3.10
 * works on local time). Each one is then placed in the series' zone with the
 * gap/fold policy (`zonedFromWallClock`). This is also what keeps the library's
 * own DST handling, which omits times that fall in a gap, out of our answers.
 */

/** Length of a FREQ period on the floating time line, for the frequencies whose periods all have the same length. */
const FIXED_PERIOD_MS: Partial<Record<Frequency, number>> = {
  SECONDLY: 1000,
  MINUTELY: 60_000,
  HOURLY: 3_600_000,
  DAILY: DAY_MS,
  WEEKLY: 7 * DAY_MS,
};

const WEEK_S = 7 * 86_400;
const LAST_SECOND_OF_DAY_MS = DAY_MS - 1000;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * True when the rule provably has no instance at all because its INTERVAL
 * never lands on an allowed weekday/hour/minute/second. The periods of a
 * DAILY…SECONDLY rule start at P0 + j·step on the floating time line; modulo a
 * week their positions are exactly the residues ≡ P0 (mod gcd(step, week)).
 * If none of the allowed (BYDAY, BYHOUR, BYMINUTE, BYSECOND) positions share
 * that residue, no period passes the filters (`FREQ=HOURLY;INTERVAL=2;BYHOUR=1`
 * from 00:00). Also true when no allowed month has a BYMONTHDAY day, or when
 * every BYSETPOS position lies beyond the largest possible period. Only ever
 * answers true when certain.
 */
export function provablyEmpty(rule: RRule, start: Temporal.PlainDateTime): boolean {
  if (rule.bySetPos.length > 0 && Math.min(...rule.bySetPos.map(Math.abs)) > maxPeriodSize(rule)) return true;
  if (rule.byMonthDay.length > 0) {
    // BYMONTHDAY=31 with BYMONTH=4, or 30 with 2: no month allowed has such a day.
    const months = rule.byMonth.length ? rule.byMonth : range(12).map((m) => m + 1);
    const longest = (m: number) => (m === 2 ? 29 : [4, 6, 9, 11].includes(m) ? 30 : 31);
    if (!months.some((m) => rule.byMonthDay.some((d) => Math.abs(d) <= longest(m)))) return true;
  }
  const unitS = { SECONDLY: 1, MINUTELY: 60, HOURLY: 3600, DAILY: 86_400 }[rule.freq as string];
  if (unitS === undefined) return false;
  const g = gcd(rule.interval * unitS, WEEK_S);
  const startS = Math.floor(wallMs(start) / 1000);
  const periodStartS = startS - (((startS % unitS) + unitS) % unitS);
  // 1970-01-01 was a Thursday; shift so that residue 0 is a Monday 00:00.
  const residue = (((periodStartS + 3 * 86_400) % g) + g) % g;

  const fine = (ownedBelow: boolean, values: number[], all: number) => (!ownedBelow ? [0] : values.length ? values : range(all));
  const weekdays = rule.byDay.length ? rule.byDay.map((d) => WEEKDAYS.indexOf(d.weekday)) : range(7);
  const hours = fine(unitS <= 3600, rule.byHour, 24);
  const minutes = fine(unitS <= 60, rule.byMinute, 60);
  const seconds = fine(unitS <= 1, rule.bySecond, 60);

  let reachable = new Set([0]);
  for (const [values, scale] of [[weekdays, 86_400], [hours, 3600], [minutes, 60], [seconds, 1]] as const) {
    const next = new Set<number>();
    for (const r of reachable) for (const v of values) next.add((r + v * scale) % g);
    reachable = next;
    if (reachable.size === g) return false;
  }
  return !reachable.has(residue);
}

/**
 * An upper bound on the candidates one period can hold: BYSETPOS positions
 * beyond it never select anything (`FREQ=DAILY;BYSETPOS=2` with one time a day).
 */
function maxPeriodSize(rule: RRule): number {
  const n = (values: readonly unknown[]) => Math.max(values.length, 1);
  const seconds = n(rule.bySecond);
  const minutes = seconds * n(rule.byMinute);
  const slots = minutes * n(rule.byHour);
  const days = { SECONDLY: 0, MINUTELY: 0, HOURLY: 0, DAILY: 1, WEEKLY: 7, MONTHLY: 31, YEARLY: 366 }[rule.freq];
  if (rule.freq === 'SECONDLY') return 1;
  if (rule.freq === 'MINUTELY') return seconds;
  if (rule.freq === 'HOURLY') return minutes;
  return days * slots;
}

function budgetExceeded(limits: RecurrenceLimits): Error {
  return invalid(
    `RRULE expansion needs more than its budget of ${limits.maxIterations} iterations; ` +
      'ask for a narrower window or a smaller limit, or simplify the rule',
  );
}

/** True when the rule takes its day of the month from DTSTART (RFC 5545 §3.3.10: parts not given come from DTSTART). */
function dayFromDtstart(rule: RRule): boolean {
  if (rule.byMonthDay.length > 0 || rule.byDay.length > 0) return false;
  return rule.freq === 'MONTHLY' || (rule.freq === 'YEARLY' && rule.byYearDay.length === 0 && rule.byWeekNo.length === 0);
}

/**
 * A later DTSTART that yields the same instances from `lowWallMs` on, for a
 * rule without COUNT: DTSTART moved by a whole number of INTERVAL periods, to
 * at least one period before `lowWallMs`. The periods after it are the
 * original rule's periods, and what DTSTART supplies to the rule (time of day;
 * weekday for WEEKLY; day of month for MONTHLY and YEARLY; month for YEARLY)
 * is unchanged: fixed-length periods move by exact multiples of a day or week,
 * MONTHLY and YEARLY ones by whole months, and only to a month that has
 * DTSTART's day when the rule takes its day from DTSTART. Instances the new
 * DTSTART drops all lie before `lowWallMs`.
 */
export function skipAhead(rule: RRule, start: Temporal.PlainDateTime, lowWallMs: number): Temporal.PlainDateTime {
  const startMs = wallMs(start);
  const periodMs = FIXED_PERIOD_MS[rule.freq];
  if (periodMs !== undefined) {
    const step = periodMs * rule.interval;
    const skip = Math.floor((lowWallMs - step - startMs) / step);
    return skip > 0 ? wallFromMs(startMs + skip * step) : start;
  }
  const stepMonths = (rule.freq === 'YEARLY' ? 12 : 1) * rule.interval;
  const low = wallFromMs(lowWallMs);
  const monthsAhead = (low.year - start.year) * 12 + (low.month - start.month);
  const keepDay = dayFromDtstart(rule);
  // Periods start on the first of a month (of January for YEARLY), so two steps back is a whole period clear.
  for (let skip = Math.floor((monthsAhead - 2 * stepMonths) / stepMonths), tries = 0; skip > 0 && tries < 500; skip--, tries++) {
    const candidate = start.add({ months: skip * stepMonths });
    if (!keepDay || candidate.day === start.day) return candidate;
  }
  return start;
}

export interface WalkOptions {
  /**
   * Instances with a nominal wall-clock start before this (floating ms) are not
   * needed, which allows skipping ahead; null walks from DTSTART.
   */
  lowWallMs: number | null;
  /** Instances with a nominal wall-clock start after this (floating ms) are not needed. */
  highWallMs: number;
  /**
   * Called for each instance in nominal wall-clock order, with its nominal
   * wall-clock start, that as floating ms, and its start instant in the
   * series' zone (after the gap/fold policy). Return false to stop.
   */
  visit: (o: Occurrence) => boolean;
}

/**
 * One instance of a walk: its nominal wall-clock start (floating ms) and its start
 * instant (after the gap/fold policy), with the Temporal forms made only when asked for
 * (most callers need the numbers alone).
 */
export class Occurrence {
  private wall: Temporal.PlainDateTime | undefined;
  private zoned: Temporal.ZonedDateTime | undefined;

  constructor(
    readonly nominalMs: number,
    readonly startMs: number,
    private readonly tz: string,
    zdt?: Temporal.ZonedDateTime,
  ) {
    this.zoned = zdt;
  }

  /** The nominal start as wall-clock time. */
  get nominal(): Temporal.PlainDateTime {
    return (this.wall ??= wallFromMs(this.nominalMs));
  }

  /** The start instant in the series' zone. */
  get zdt(): Temporal.ZonedDateTime {
    return (this.zoned ??= zonedAt(this.startMs, this.tz));
  }
}

/**
 * Visits the RRULE's instances (before EXDATE, without RDATEs) in nominal
 * order. COUNT is counted from DTSTART; a DTSTART that does not match the rule
 * is not an instance (the dateutil reading of RFC 5545 §3.8.5.3's "undefined"
 * case); a UTC UNTIL is compared with instants, a DATE UNTIL with wall-clock
 * dates (inclusive through the end of that day).
 *
 * A rule with COUNT is walked from DTSTART in one library call. One without is
 * walked in chunks from {@link skipAhead}'s DTSTART, so a twenty-year-old
 * weekly series costs the same as a new one.
 *
 * Budget: the walk advances through at most `limits.maxIterations` recurrence
 * periods (counted as the library counts them for COUNT rules, and as the
 * periods each chunk spans otherwise), looks at no more instances than that,
 * and lets the library evaluate at most `maxCandidateEvaluations` candidates
 * per call (rules whose periods hold at most a year's days are bounded by their
 * periods instead: see `fewCandidates`).
 *
 * @throws AppError Invalid when the walk exceeds its budget, or if the library
 *   ever returns instances out of order.
 */
export function walkRule(c: CompiledSeries, rule: RRule, limits: RecurrenceLimits, options: WalkOptions): void {
  if (provablyEmpty(rule, c.start)) return;
  const dtstartMs = wallMs(c.start);

  let untilUtcMs: number | null = null;
  let untilWallMs = Number.POSITIVE_INFINITY;
  if (rule.until?.kind === 'date') {
    untilWallMs = wallMs(Temporal.PlainDate.from(rule.until.date).toPlainDateTime()) + LAST_SECOND_OF_DAY_MS;
  } else if (rule.until?.kind === 'utc') {
    untilUtcMs = Temporal.Instant.from(rule.until.utc).epochMilliseconds;
    // An instance at or before UNTIL has a nominal wall-clock start at most UNTIL's wall-clock time plus the offset
    // changes near it (transitionSlackMs). A fixed two days here charged a sub-daily rule's walk for 2 days of
    // periods past its last instance: a FREQ=SECONDLY;COUNT=5 series ran out of budget in any window over 5.5 h.
    untilWallMs = wallMs(wallAt(untilUtcMs, c.tz)) + transitionSlackMs(c.tz, untilUtcMs) + 1000;
  }
  const boundMs = Math.min(untilWallMs, options.highWallMs);
  if (boundMs < dtstartMs) return;

  // The first days of January can lie in the previous ISO week-year (2011-01-01 is in week 52 of 2010), and
  // rrule-temporal only visits a week-year's weeks from a DTSTART inside it. So BYWEEKNO rules start it a year
  // early, drop what precedes DTSTART and count here. At INTERVAL=1 without BYSETPOS (all that is accepted with
  // BYWEEKNO) the instances do not depend on where the periods start.
  const weekNo = rule.freq === 'YEARLY' && rule.byWeekNo.length > 0;
  const byDay = weekNo && rule.byDay.length === 0 ? [{ ordinal: null, weekday: WEEKDAYS[c.start.dayOfWeek - 1]! }] : rule.byDay;
  const ownCount = weekNo ? rule.count : null;
  const libraryCount = ownCount === null ? rule.count : null;

  // BYWEEKNO rules keep the limit (their library start lies a year early, and they are rare).
  const fewCandidates = rule.byWeekNo.length === 0 && maxPeriodSize(rule) * limits.maxIterations <= limits.maxCandidateEvaluations * 40;
  const floating = (ms: number) => Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO('UTC');
  /** The library's instances from `start` through `untilMs` (nominal, floating), in order; null over `budget` periods. */
  const libraryStart = (start: Temporal.PlainDateTime) => (weekNo ? start.with({ year: start.year - 1, month: 1, day: 1 }) : start);
  const run = (start: Temporal.PlainDateTime, untilMs: number, budget: number): { epochMilliseconds: number }[] | null => {
    const from = libraryStart(start);
    try {
      // all() without a callback takes the library's fast paths; with one it is some forty times slower.
      return new RRuleTemporal({
        freq: rule.freq,
        interval: rule.interval,
        ...(libraryCount !== null ? { count: libraryCount } : {}),
        until: floating(untilMs),
        ...(rule.bySecond.length ? { bySecond: rule.bySecond } : {}),
        ...(rule.byMinute.length ? { byMinute: rule.byMinute } : {}),
        ...(rule.byHour.length ? { byHour: rule.byHour } : {}),
        ...(byDay.length ? { byDay: byDay.map(formatWeekdayNum) } : {}),
        ...(rule.byMonthDay.length ? { byMonthDay: rule.byMonthDay } : {}),
        ...(rule.byYearDay.length ? { byYearDay: rule.byYearDay } : {}),
        ...(rule.byWeekNo.length ? { byWeekNo: rule.byWeekNo } : {}),
        ...(rule.byMonth.length ? { byMonth: rule.byMonth } : {}),
        ...(rule.bySetPos.length ? { bySetPos: rule.bySetPos } : {}),
        ...(rule.wkst ? { wkst: rule.wkst } : {}),
        dtstart: floating(wallMs(from)),
        tzid: 'UTC',
        cache: false,
        maxIterations: budget,
        // The candidate limit sends rrule-temporal 2.2.8 down a path some twenty times slower; a rule whose
        // periods hold few candidates (no BYHOUR/BYMINUTE/BYSECOND expansion) stays within it anyway.
        ...(fewCandidates ? {} : { maxCandidateEvaluations: limits.maxCandidateEvaluations }),
      }).all();
    } catch (error) {
      if (error instanceof Error && /^Maximum (iterations|candidate evaluations)/.test(error.message)) return null;
      throw error;
    }
  };

  let visits = 0;
  let counted = 0;
  let previousMs = Number.NEGATIVE_INFINITY;
  /** Visits the occurrences after `afterMs`; false once the walk is over. */
  const emit = (occurrences: { epochMilliseconds: number }[], afterMs: number): boolean => {
    for (const occurrence of occurrences) {
      const nominalMs = occurrence.epochMilliseconds;
      if (nominalMs <= afterMs || nominalMs < dtstartMs) continue;
      if (nominalMs < previousMs) {
        // The stop conditions here and in our callers rely on nominal order; never answer from a walk that breaks it.
        throw invalid('this RRULE cannot be expanded reliably (rrule-temporal returned its instances out of order); simplify the rule');
      }
      previousMs = nominalMs;
      if (nominalMs > boundMs) return false;
      if (++visits > limits.maxIterations) throw budgetExceeded(limits);
      const zdt = c.allDay ? zonedStartOfDay(wallFromMs(nominalMs).toPlainDate(), c.tz) : undefined;
      const at = new Occurrence(nominalMs, zdt ? zdt.epochMilliseconds : instantOfWall(c.tz, nominalMs), c.tz, zdt);
      if (untilUtcMs !== null && at.startMs > untilUtcMs) continue;
      if (!options.visit(at)) return false;
      if (ownCount !== null && ++counted >= ownCount) return false;
    }
    return true;
  };

  if (libraryCount !== null) {
    // COUNT is counted from DTSTART: one pass from it, which yields at most COUNT instances.
    const occurrences = run(c.start, boundMs, limits.maxIterations);
    if (!occurrences) throw budgetExceeded(limits);
    emit(occurrences, Number.NEGATIVE_INFINITY);
    return;
  }
  // Without COUNT, walk in chunks, each from the latest DTSTART that gives the same instances (skipAhead), so the
  // work follows the instances wanted rather than the age of the series. Chunks grow fourfold while they find
  // few instances. Each is charged the periods it spans, an upper bound of what the library advances through,
  // and cut to what is left, so one walk advances through at most `maxIterations` periods in all.
  const periodMs = rule.interval * (FIXED_PERIOD_MS[rule.freq] ?? (rule.freq === 'MONTHLY' ? 28 : 365) * DAY_MS);
  let spanMs = 64 * periodMs;
  let budget = limits.maxIterations;
  // A BYWEEKNO rule with COUNT is counted here, from DTSTART, so its walk starts there; its later chunks skip
  // ahead only over what has been counted. (One library pass would run to the end of the bounds, centuries for
  // a COUNT rule's, before the count could stop it: 30 s and more to save such a series.)
  let afterMs = ownCount !== null ? dtstartMs - 1 : Math.max(options.lowWallMs ?? dtstartMs, dtstartMs) - 1;
  for (;;) {
    const start = skipAhead(rule, c.start, afterMs + 1);
    const startMs = wallMs(libraryStart(start));
    const affordableMs = startMs + (budget - 2) * periodMs;
    if (affordableMs <= afterMs) throw budgetExceeded(limits);
    const untilMs = Math.min(afterMs + spanMs, boundMs, affordableMs);
    const occurrences = run(start, untilMs, budget);
    if (!occurrences) throw budgetExceeded(limits);
    budget -= Math.ceil((untilMs - startMs) / periodMs) + 2;
    if (!emit(occurrences, afterMs) || untilMs >= boundMs) return;
    afterMs = untilMs;
    if (occurrences.length < 1000) spanMs *= 4;
  }
}
