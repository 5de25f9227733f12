import { invalid } from '../../errors.js';
import { DEFAULT_LIMITS, resolveLimits, type RecurrenceLimits } from './limits.js';
import { parseDate } from './time.js';

/*
 * RRULE values (RFC 5545 §3.3.10): a strict parser into a normalized form, and
 * the canonical text of that form. Validation happens here, before the
 * library ever sees a rule, so every refusal names the part at fault.
 */

export const FREQUENCIES = ['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'] as const;
export type Frequency = (typeof FREQUENCIES)[number];

export const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** One BYDAY value: a weekday, optionally with an ordinal (`1FR` first Friday, `-1SU` last Sunday). */
export interface WeekdayNum {
  ordinal: number | null;
  weekday: Weekday;
}

/**
 * UNTIL (RFC 5545 §3.3.10). `date` is a DATE (`YYYY-MM-DD`): inclusive through
 * the end of that day in the series' zone. `utc` is a DATE-TIME in UTC
 * (`YYYY-MM-DDTHH:mm:ssZ`): inclusive instant.
 */
export type Until = { kind: 'date'; date: string } | { kind: 'utc'; utc: string };

/** A parsed, validated RRULE. Lists are sorted and free of duplicates; absent parts are empty or null. */
export interface RRule {
  freq: Frequency;
  /** ≥ 1; 1 when absent. */
  interval: number;
  count: number | null;
  until: Until | null;
  bySecond: number[];
  byMinute: number[];
  byHour: number[];
  byDay: WeekdayNum[];
  byMonthDay: number[];
  byYearDay: number[];
  byWeekNo: number[];
  byMonth: number[];
  bySetPos: number[];
  /** Null when absent (RFC 5545 default: MO). */
  wkst: Weekday | null;
}

const KNOWN_PARTS = [
  'FREQ', 'UNTIL', 'COUNT', 'INTERVAL', 'BYSECOND', 'BYMINUTE', 'BYHOUR', 'BYDAY',
  'BYMONTHDAY', 'BYYEARDAY', 'BYWEEKNO', 'BYMONTH', 'BYSETPOS', 'WKST',
] as const;
type PartName = (typeof KNOWN_PARTS)[number];

function isPartName(name: string): name is PartName {
  return (KNOWN_PARTS as readonly string[]).includes(name);
}

/** A value for an error message: bare when short and plain (`0`, `-1.5`), quoted and cut otherwise. */
function shown(raw: string): string {
  if (/^[\w.+-]{1,20}$/.test(raw)) return raw;
  return JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);
}

function wholeNumber(part: string, raw: string, min: number, max: number, maxName?: string): number {
  if (!/^\d{1,12}$/.test(raw) || Number(raw) < min) {
    throw invalid(`RRULE ${part} must be a whole number ≥ ${min} (got ${shown(raw)})`);
  }
  const n = Number(raw);
  if (n > max) {
    throw invalid(`RRULE ${part} must be at most ${max}${maxName ? ` (${maxName})` : ''} (got ${n})`);
  }
  return n;
}

/** A comma list of integers in ±[1, max] (or [min, max] when `signed` is false). */
function intList(part: string, raw: string, min: number, max: number, signed: boolean): number[] {
  const values = new Set<number>();
  for (const item of raw.split(',')) {
    const pattern = signed ? /^[+-]?\d{1,3}$/ : /^\d{1,3}$/;
    const n = pattern.test(item) ? Number(item) : Number.NaN;
    const ok = signed ? n !== 0 && Math.abs(n) >= min && Math.abs(n) <= max : n >= min && n <= max;
    if (!ok) {
      const range = signed ? `${min} to ${max} or -${max} to -${min}` : `${min} to ${max}`;
      throw invalid(`RRULE ${part} values must be whole numbers from ${range} (got ${shown(item)})`);
    }
    values.add(n);
  }
  return [...values].sort((a, b) => a - b);
}

function weekday(part: string, raw: string): Weekday {
  const upper = raw.toUpperCase();
  if (!(WEEKDAYS as readonly string[]).includes(upper)) {
    throw invalid(`RRULE ${part} must be one of ${WEEKDAYS.join(', ')} (got ${shown(raw)})`);
  }
  return upper as Weekday;
}

function byDayList(raw: string): WeekdayNum[] {
  const seen = new Map<string, WeekdayNum>();
  for (const item of raw.split(',')) {
    const m = /^([+-]?\d{1,2})?([A-Za-z]{2})$/.exec(item);
    const day = m && (WEEKDAYS as readonly string[]).includes(m[2]!.toUpperCase()) ? (m[2]!.toUpperCase() as Weekday) : null;
    const ordinal = m?.[1] === undefined ? null : Number(m[1]);
    if (!day || (ordinal !== null && (ordinal === 0 || Math.abs(ordinal) > 53))) {
      throw invalid(`RRULE BYDAY values must be weekdays like MO or 1FR or -1SU, ordinals 1 to 53 (got ${shown(item)})`);
    }
    seen.set(`${ordinal ?? ''}${day}`, { ordinal, weekday: day });
  }
  return [...seen.values()].sort(
    (a, b) => (a.ordinal ?? 0) - (b.ordinal ?? 0) || WEEKDAYS.indexOf(a.weekday) - WEEKDAYS.indexOf(b.weekday),
  );
}

function untilValue(raw: string): Until {
  if (/^\d{8}$/.test(raw)) {
    return { kind: 'date', date: parseDate(raw, 'RRULE UNTIL').toString() };
  }
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/i.exec(raw);
  if (m) {
    const date = parseDate(`${m[1]}${m[2]}${m[3]}`, 'RRULE UNTIL');
    if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) {
      throw invalid(`RRULE UNTIL is not a real date-time (got ${shown(raw)})`);
    }
    return { kind: 'utc', utc: `${date.toString()}T${m[4]}:${m[5]}:${m[6]}Z` };
  }
  if (/^\d{8}T\d{6}$/.test(raw)) {
    throw invalid(
      `RRULE UNTIL must be in UTC like ${raw}Z, or a date like ${raw.slice(0, 8)} (RFC 5545 §3.3.10); a floating UNTIL is not supported`,
    );
  }
  throw invalid(`RRULE UNTIL must be a UTC date-time like 20261231T235959Z or a date like 20261231 (got ${shown(raw)})`);
}

/**
 * Parses and validates an RRULE value (RFC 5545 §3.3.10) into its normalized
 * form. Accepts an optional `RRULE:` prefix; part names and weekday codes are
 * case-insensitive.
 *
 * Checked here, independent of any DTSTART:
 * - length ≤ `limits.maxRRuleLength` (checked first, so a huge value is refused without being split);
 * - every part known, none repeated; RSCALE/SKIP (RFC 7529) and X- parts are refused as unsupported;
 * - FREQ present and one of SECONDLY…YEARLY; INTERVAL a whole number in [1, maxInterval];
 *   COUNT a whole number in [1, maxCount]; UNTIL a DATE or a UTC DATE-TIME;
 * - value ranges: BYSECOND 0–59 (60, a leap second, is refused as unsupported), BYMINUTE 0–59,
 *   BYHOUR 0–23, BYMONTHDAY ±1–31, BYYEARDAY ±1–366, BYWEEKNO ±1–53, BYMONTH 1–12,
 *   BYSETPOS ±1–366, BYDAY ordinals ±1–53 (±1–5 with FREQ=MONTHLY);
 * - the RFC's MUST/MUST NOT rules: not both COUNT and UNTIL; BYDAY ordinals only with
 *   MONTHLY or YEARLY and not with YEARLY+BYWEEKNO; no BYMONTHDAY with WEEKLY; no BYYEARDAY
 *   with DAILY, WEEKLY or MONTHLY; BYWEEKNO only with YEARLY; BYSETPOS only with another BYxxx;
 * - FREQ=SECONDLY needs COUNT or UNTIL (an open-ended per-second series is refused).
 *
 * @param text the RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO,WE`.
 * @param limits overrides of {@link DEFAULT_LIMITS}.
 * @returns the normalized rule; {@link formatRRule} turns it back into text.
 * @throws AppError Invalid (BAD_REQUEST) naming the offending part.
 */
export function parseRRule(text: unknown, limits?: Partial<RecurrenceLimits>): RRule {
  const L = limits ? resolveLimits(limits) : DEFAULT_LIMITS;
  if (typeof text !== 'string') throw invalid('RRULE must be a string like FREQ=WEEKLY;BYDAY=MO');
  if (text.length > L.maxRRuleLength) {
    throw invalid(`RRULE is ${text.length} characters long; the limit is ${L.maxRRuleLength}`);
  }
  if (/[\r\n]/.test(text)) {
    throw invalid('RRULE must be a single RRULE value like FREQ=WEEKLY;BYDAY=MO; send DTSTART, EXDATE and RDATE as their own fields');
  }
  let body = text.trim();
  if (/^RRULE:/i.test(body)) body = body.slice('RRULE:'.length);
  if (body.endsWith(';')) body = body.slice(0, -1);
  if (body === '') throw invalid('RRULE must include FREQ (e.g. FREQ=WEEKLY)');

  const raw = new Map<PartName, string>();
  for (const piece of body.split(';')) {
    const eq = piece.indexOf('=');
    const name = (eq > 0 ? piece.slice(0, eq) : piece).toUpperCase();
    const value = eq > 0 ? piece.slice(eq + 1) : '';
    if (eq <= 0 || value === '') {
      throw invalid(`RRULE part ${shown(piece)} is malformed; parts look like NAME=VALUE separated by ";"`);
    }
    if (!isPartName(name)) {
      if (name === 'RSCALE' || name === 'SKIP') throw invalid(`RRULE part ${name} (RFC 7529) is not supported`);
      if (name.startsWith('X-')) throw invalid(`RRULE extension part ${shown(name)} is not supported`);
      throw invalid(`RRULE part ${shown(name)} is unknown (RFC 5545 §3.3.10)`);
    }
    if (raw.has(name)) throw invalid(`RRULE part ${name} appears more than once`);
    raw.set(name, value);
  }

  const freqRaw = raw.get('FREQ');
  if (freqRaw === undefined) throw invalid('RRULE must include FREQ (e.g. FREQ=WEEKLY)');
  const freq = freqRaw.toUpperCase();
  if (!(FREQUENCIES as readonly string[]).includes(freq)) {
    throw invalid(`RRULE FREQ must be one of ${FREQUENCIES.join(', ')} (got ${shown(freqRaw)})`);
  }

  const get = (name: PartName) => raw.get(name);
  const list = (name: PartName, min: number, max: number, signed: boolean) => {
    const v = get(name);
    return v === undefined ? [] : intList(name, v, min, max, signed);
  };

  const bySecondRaw = get('BYSECOND');
  if (bySecondRaw !== undefined && bySecondRaw.split(',').some((s) => s === '60')) {
    throw invalid('RRULE BYSECOND=60 (a leap second) is not supported');
  }

  const rule: RRule = {
    freq: freq as Frequency,
    interval: get('INTERVAL') === undefined ? 1 : wholeNumber('INTERVAL', get('INTERVAL')!, 1, L.maxInterval),
    count: get('COUNT') === undefined ? null : wholeNumber('COUNT', get('COUNT')!, 1, L.maxCount),
    until: get('UNTIL') === undefined ? null : untilValue(get('UNTIL')!),
    bySecond: list('BYSECOND', 0, 59, false),
    byMinute: list('BYMINUTE', 0, 59, false),
    byHour: list('BYHOUR', 0, 23, false),
    byDay: get('BYDAY') === undefined ? [] : byDayList(get('BYDAY')!),
    byMonthDay: list('BYMONTHDAY', 1, 31, true),
    byYearDay: list('BYYEARDAY', 1, 366, true),
    byWeekNo: list('BYWEEKNO', 1, 53, true),
    byMonth: list('BYMONTH', 1, 12, false),
    bySetPos: list('BYSETPOS', 1, 366, true),
    wkst: get('WKST') === undefined ? null : weekday('WKST', get('WKST')!),
  };
  checkCombinations(rule);
  return rule;
}

/** The RFC 5545 §3.3.10 MUST / MUST NOT rules between parts, plus our refusals. */
function checkCombinations(rule: RRule): void {
  const { freq } = rule;
  if (rule.count !== null && rule.until !== null) {
    throw invalid('RRULE must not have both COUNT and UNTIL (RFC 5545 §3.3.10)');
  }
  const ordinals = rule.byDay.filter((d) => d.ordinal !== null);
  if (ordinals.length > 0) {
    if (freq !== 'MONTHLY' && freq !== 'YEARLY') {
      throw invalid(`RRULE BYDAY ordinals like 1MO need FREQ=MONTHLY or FREQ=YEARLY, not FREQ=${freq} (RFC 5545 §3.3.10)`);
    }
    if (freq === 'YEARLY' && rule.byWeekNo.length > 0) {
      throw invalid('RRULE BYDAY ordinals like 1MO must not be used with FREQ=YEARLY and BYWEEKNO (RFC 5545 §3.3.10)');
    }
    const tooFar = ordinals.find((d) => Math.abs(d.ordinal!) > 5);
    if (freq === 'MONTHLY' && tooFar) {
      throw invalid(`RRULE BYDAY ordinal ${tooFar.ordinal}${tooFar.weekday} is out of range for FREQ=MONTHLY (1 to 5 or -5 to -1)`);
    }
  }
  if (rule.byMonthDay.length > 0 && freq === 'WEEKLY') {
    throw invalid('RRULE BYMONTHDAY must not be used with FREQ=WEEKLY (RFC 5545 §3.3.10)');
  }
  if (rule.byYearDay.length > 0 && (freq === 'DAILY' || freq === 'WEEKLY' || freq === 'MONTHLY')) {
    throw invalid(`RRULE BYYEARDAY must not be used with FREQ=${freq} (RFC 5545 §3.3.10)`);
  }
  if (rule.byWeekNo.length > 0 && freq !== 'YEARLY') {
    throw invalid(`RRULE BYWEEKNO needs FREQ=YEARLY, not FREQ=${freq} (RFC 5545 §3.3.10)`);
  }
  const otherBy =
    rule.bySecond.length + rule.byMinute.length + rule.byHour.length + rule.byDay.length +
    rule.byMonthDay.length + rule.byYearDay.length + rule.byWeekNo.length + rule.byMonth.length;
  if (rule.bySetPos.length > 0 && otherBy === 0) {
    throw invalid('RRULE BYSETPOS needs another BYxxx part to select from (RFC 5545 §3.3.10)');
  }
  if (freq === 'SECONDLY' && rule.count === null && rule.until === null) {
    throw invalid('RRULE FREQ=SECONDLY needs COUNT or UNTIL; an open-ended per-second series is refused');
  }
  if (freq === 'YEARLY') checkYearlySupported(rule);
}

/**
 * FREQ=YEARLY combinations that rrule-temporal 2.2.8 expands wrongly, found by
 * comparing it with a brute-force RFC 5545 expansion on thousands of random
 * rules. Refused rather than answered wrong; every other combination agreed.
 */
function checkYearlySupported(rule: RRule): void {
  const ordinals = rule.byDay.filter((d) => d.ordinal !== null).length;
  if (rule.byYearDay.length > 0 && (rule.byDay.length > 0 || rule.byMonthDay.length > 0)) {
    throw invalid('RRULE FREQ=YEARLY with BYYEARDAY together with BYDAY or BYMONTHDAY is not supported');
  }
  if (rule.byMonth.length === 0 && ordinals > 0 && rule.byMonthDay.length > 0) {
    throw invalid('RRULE FREQ=YEARLY with BYDAY ordinals (like 20MO) together with BYMONTHDAY is not supported without BYMONTH');
  }
  if (rule.byMonth.length === 0 && ordinals > 0 && ordinals < rule.byDay.length) {
    throw invalid('RRULE FREQ=YEARLY with BYDAY mixing ordinal and plain weekdays (like 20MO,FR) is not supported without BYMONTH');
  }
  if (rule.byWeekNo.length > 0) {
    // Week numbers belong to ISO week-years, periods to calendar years; they only agree period by period at INTERVAL=1.
    if (rule.interval !== 1) throw invalid('RRULE BYWEEKNO with INTERVAL greater than 1 is not supported');
    if (rule.bySetPos.length > 0) throw invalid('RRULE BYWEEKNO together with BYSETPOS is not supported');
    if (rule.byMonthDay.length > 0 || rule.byYearDay.length > 0) {
      throw invalid('RRULE BYWEEKNO together with BYMONTHDAY or BYYEARDAY is not supported');
    }
  }
}

/** BYDAY value text: `MO`, `1FR`, `-1SU`. */
export function formatWeekdayNum(d: WeekdayNum): string {
  return `${d.ordinal ?? ''}${d.weekday}`;
}

/**
 * Canonical RRULE text of a normalized rule: parts in RFC 5545 §3.3.10 grammar
 * order, defaults (INTERVAL=1, WKST=MO) left out, lists sorted. Parsing the
 * result gives back an equal rule.
 *
 * @returns e.g. `FREQ=WEEKLY;UNTIL=20261231T235959Z;INTERVAL=2;BYDAY=MO,WE`.
 */
export function formatRRule(rule: RRule): string {
  const parts = [`FREQ=${rule.freq}`];
  if (rule.until) {
    parts.push(
      `UNTIL=${rule.until.kind === 'date' ? rule.until.date.replaceAll('-', '') : rule.until.utc.replaceAll(/[-:]/g, '')}`,
    );
  }
  if (rule.count !== null) parts.push(`COUNT=${rule.count}`);
  if (rule.interval !== 1) parts.push(`INTERVAL=${rule.interval}`);
  const lists: [string, readonly (number | string)[]][] = [
    ['BYSECOND', rule.bySecond],
    ['BYMINUTE', rule.byMinute],
    ['BYHOUR', rule.byHour],
    ['BYDAY', rule.byDay.map(formatWeekdayNum)],
    ['BYMONTHDAY', rule.byMonthDay],
    ['BYYEARDAY', rule.byYearDay],
    ['BYWEEKNO', rule.byWeekNo],
    ['BYMONTH', rule.byMonth],
    ['BYSETPOS', rule.bySetPos],
  ];
  for (const [name, values] of lists) if (values.length > 0) parts.push(`${name}=${values.join(',')}`);
  if (rule.wkst && rule.wkst !== 'MO') parts.push(`WKST=${rule.wkst}`);
  return parts.join(';');
}

/**
 * Validates an RRULE and returns its canonical text: {@link parseRRule} then
 * {@link formatRRule}. What the events service stores on create.
 * @throws AppError Invalid (BAD_REQUEST) as {@link parseRRule}.
 */
export function normalizeRRule(text: unknown, limits?: Partial<RecurrenceLimits>): string {
  return formatRRule(parseRRule(text, limits));
}
