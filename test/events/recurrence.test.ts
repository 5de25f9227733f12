import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError, toTRPCCode } from '../../src/errors.js';
import {
  expandSeries,
  formatRRule,
  normalizeRRule,
  parseRRule,
  splitSeries,
  validateSeries,
  wallClockToInstant,
  type Instance,
  type Series,
} from '../../src/events/recurrence/index.js';

/** Runs `fn`, which must refuse with the domain error that maps to BAD_REQUEST; returns its message. */
function refusal(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AppError);
  const error = thrown as AppError;
  expect(error.code).toBe('Invalid');
  expect(toTRPCCode(error.code)).toBe('BAD_REQUEST');
  return error.message;
}

const ALL_TIME = { from: '1900-01-01T00:00:00Z', to: '2300-01-01T00:00:00Z', limit: 1000 };
const starts = (instances: Instance[]) => instances.map((i) => i.start);

describe('parseRRule / normalizeRRule', () => {
  it('normalizes case, order, duplicates and defaults', () => {
    expect(normalizeRRule('rrule:byday=we,mo,WE;freq=weekly;interval=1;wkst=mo')).toBe('FREQ=WEEKLY;BYDAY=MO,WE');
    expect(normalizeRRule('FREQ=MONTHLY;BYDAY=-1FR,+1MO;COUNT=3;INTERVAL=2')).toBe('FREQ=MONTHLY;COUNT=3;INTERVAL=2;BYDAY=-1FR,1MO');
    expect(normalizeRRule('FREQ=DAILY;UNTIL=20261231T235959z;')).toBe('FREQ=DAILY;UNTIL=20261231T235959Z');
  });

  it('parses into the normalized form and formats back', () => {
    const rule = parseRRule('FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;UNTIL=20301231');
    expect(rule).toMatchObject({
      freq: 'YEARLY',
      interval: 1,
      count: null,
      until: { kind: 'date', date: '2030-12-31' },
      byMonth: [11],
      byDay: [{ ordinal: 4, weekday: 'TH' }],
      wkst: null,
    });
    expect(parseRRule(formatRRule(rule))).toEqual(rule);
  });

  it.each([
    ['FREQ=DAILY;INTERVAL=0', /RRULE INTERVAL must be a whole number ≥ 1 \(got 0\)/],
    ['FREQ=DAILY;INTERVAL=-1', /RRULE INTERVAL must be a whole number ≥ 1 \(got -1\)/],
    ['FREQ=DAILY;INTERVAL=1.5', /RRULE INTERVAL must be a whole number ≥ 1 \(got 1.5\)/],
    ['FREQ=DAILY;INTERVAL=5000', /RRULE INTERVAL must be at most 1000 \(got 5000\)/],
    ['FREQ=DAILY;COUNT=5000', /RRULE COUNT must be at most 1000 \(got 5000\)/],
    ['FREQ=DAILY;COUNT=0', /RRULE COUNT must be a whole number ≥ 1/],
    ['FREQ=SECONDLY', /FREQ=SECONDLY needs COUNT or UNTIL/],
    ['FREQ=FORTNIGHTLY', /RRULE FREQ must be one of SECONDLY, .*YEARLY \(got FORTNIGHTLY\)/],
    ['BYDAY=MO', /RRULE must include FREQ/],
    ['', /RRULE must include FREQ/],
    ['FREQ=DAILY;FREQ=WEEKLY', /RRULE part FREQ appears more than once/],
    ['FREQ=DAILY;BYFOO=1', /RRULE part BYFOO is unknown/],
    ['FREQ=DAILY;RSCALE=HEBREW', /RRULE part RSCALE \(RFC 7529\) is not supported/],
    ['FREQ=DAILY;X-NAME=1', /RRULE extension part X-NAME is not supported/],
    ['FREQ=DAILY;COUNT', /RRULE part COUNT is malformed/],
    ['FREQ=MONTHLY;BYMONTHDAY=0', /RRULE BYMONTHDAY values must be whole numbers from 1 to 31 or -31 to -1 \(got 0\)/],
    ['FREQ=DAILY;BYHOUR=24', /RRULE BYHOUR values must be whole numbers from 0 to 23 \(got 24\)/],
    ['FREQ=DAILY;BYSECOND=60', /BYSECOND=60 \(a leap second\) is not supported/],
    ['FREQ=WEEKLY;BYDAY=XX', /RRULE BYDAY values must be weekdays/],
    ['FREQ=WEEKLY;WKST=XX', /RRULE WKST must be one of MO, TU/],
    ['FREQ=DAILY;COUNT=3;UNTIL=20261231', /must not have both COUNT and UNTIL/],
    ['FREQ=DAILY;UNTIL=20261231T120000', /RRULE UNTIL must be in UTC like 20261231T120000Z, or a date like 20261231/],
    ['FREQ=DAILY;UNTIL=20260230', /RRULE UNTIL is not a real date/],
    ['FREQ=WEEKLY;BYDAY=1MO', /BYDAY ordinals like 1MO need FREQ=MONTHLY or FREQ=YEARLY, not FREQ=WEEKLY/],
    ['FREQ=MONTHLY;BYDAY=6MO', /BYDAY ordinal 6MO is out of range for FREQ=MONTHLY/],
    ['FREQ=MONTHLY;BYWEEKNO=1', /RRULE BYWEEKNO needs FREQ=YEARLY, not FREQ=MONTHLY/],
    ['FREQ=WEEKLY;BYMONTHDAY=1', /BYMONTHDAY must not be used with FREQ=WEEKLY/],
    ['FREQ=MONTHLY;BYYEARDAY=1', /BYYEARDAY must not be used with FREQ=MONTHLY/],
    ['FREQ=MONTHLY;BYSETPOS=1', /BYSETPOS needs another BYxxx part/],
    ['FREQ=DAILY\nRRULE:FREQ=WEEKLY', /single RRULE value/],
  ])('refuses %j', (text, message) => {
    expect(refusal(() => parseRRule(text))).toMatch(message);
  });

  it('refuses a 100 KB RRULE by its length, before parsing it', () => {
    const huge = `FREQ=DAILY;${'BYHOUR=1;'.repeat(11_400)}`;
    expect(huge.length).toBeGreaterThan(100_000);
    expect(refusal(() => parseRRule(huge))).toBe(`RRULE is ${huge.length} characters long; the limit is 1000`);
  });

  it('refuses the FREQ=YEARLY combinations rrule-temporal expands wrongly, naming them', () => {
    expect(refusal(() => parseRRule('FREQ=YEARLY;BYYEARDAY=100;BYDAY=MO'))).toMatch(/BYYEARDAY together with BYDAY or BYMONTHDAY is not supported/);
    expect(refusal(() => parseRRule('FREQ=YEARLY;BYMONTHDAY=13;BYDAY=2FR'))).toMatch(/BYDAY ordinals .* together with BYMONTHDAY is not supported without BYMONTH/);
    expect(refusal(() => parseRRule('FREQ=YEARLY;BYDAY=20MO,FR'))).toMatch(/mixing ordinal and plain weekdays .* is not supported without BYMONTH/);
    expect(refusal(() => parseRRule('FREQ=YEARLY;INTERVAL=2;BYWEEKNO=1'))).toMatch(/BYWEEKNO with INTERVAL greater than 1 is not supported/);
    expect(refusal(() => parseRRule('FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO;BYSETPOS=1'))).toMatch(/BYWEEKNO together with BYSETPOS is not supported/);
    // The same parts are fine where the library is right: with BYMONTH, or without the other part.
    expect(normalizeRRule('FREQ=YEARLY;BYMONTH=11;BYDAY=4TH,FR')).toBe('FREQ=YEARLY;BYDAY=FR,4TH;BYMONTH=11');
    expect(normalizeRRule('FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR')).toBe('FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13');
  });

  it('takes limits from the options object', () => {
    expect(refusal(() => parseRRule('FREQ=DAILY;COUNT=20', { maxCount: 10 }))).toMatch(/COUNT must be at most 10 \(got 20\)/);
    expect(refusal(() => parseRRule('FREQ=DAILY;BYHOUR=1,2,3,4', { maxRRuleLength: 10 }))).toMatch(/the limit is 10$/);
  });
});

describe('validateSeries', () => {
  it('returns the canonical series', () => {
    expect(
      validateSeries({
        start: '2026-01-05T09:00',
        tzid: 'Europe/Berlin',
        end: '2026-01-05T10:30',
        rrule: 'rrule:byday=we,mo;freq=weekly',
        exdates: ['2026-01-07T09:00', '2026-01-12T08:00:00Z', '2026-01-07T08:00:00Z'],
      }),
    ).toEqual({
      allDay: false,
      start: '2026-01-05T09:00:00',
      tzid: 'Europe/Berlin',
      duration: 'PT1H30M',
      rrule: 'FREQ=WEEKLY;BYDAY=MO,WE',
      exdates: ['2026-01-07T08:00:00Z', '2026-01-12T08:00:00Z'],
      rdates: [],
    });
    expect(validateSeries({ start: '2026-12-24', allDay: true })).toMatchObject({ tzid: 'UTC', duration: 'P1D' });
  });

  it.each<[string, Series, RegExp]>([
    ['an unknown time zone', { start: '2026-01-05T09:00', tzid: 'Mars/Olympus_Mons' }, /unknown time zone "Mars\/Olympus_Mons"; use an IANA name/],
    ['an offset instead of a zone', { start: '2026-01-05T09:00', tzid: '+02:00' }, /unknown time zone "\+02:00"/],
    ['a timed series without a zone', { start: '2026-01-05T09:00' }, /tzid is required for a timed series/],
    ['an end before the start', { start: '2026-01-05T09:00', tzid: 'UTC', end: '2026-01-05T08:59' }, /end \(2026-01-05T08:59:00\) is before start \(2026-01-05T09:00:00\)/],
    ['a negative duration', { start: '2026-01-05T09:00', tzid: 'UTC', duration: '-PT1H' }, /duration must not be negative \(got -PT1H\)/],
    ['a malformed duration', { start: '2026-01-05T09:00', tzid: 'UTC', duration: '1 hour' }, /duration must be an RFC 5545 duration/],
    ['both end and duration', { start: '2026-01-05T09:00', tzid: 'UTC', end: '2026-01-05T10:00', duration: 'PT1H' }, /give end or duration, not both/],
    ['a duration over the limit', { start: '2026-01-05T09:00', tzid: 'UTC', duration: 'P400D' }, /at most 366 days/],
    ['an all-day end on or before the start', { start: '2026-01-05', allDay: true, end: '2026-01-05' }, /must be after start .* exclusive/],
    ['an all-day duration with a time part', { start: '2026-01-05', allDay: true, duration: 'PT12H' }, /whole days/],
    ['an hourly all-day series', { start: '2026-01-05', allDay: true, rrule: 'FREQ=HOURLY' }, /FREQ=HOURLY cannot repeat an all-day series/],
    ['BYHOUR on an all-day series', { start: '2026-01-05', allDay: true, rrule: 'FREQ=DAILY;BYHOUR=9' }, /BYHOUR, BYMINUTE and BYSECOND cannot be used with an all-day series/],
    ['a start that is not a date-time', { start: 'tomorrow', tzid: 'UTC' }, /start must be a local date-time like 2026-03-08T09:00:00 \(got "tomorrow"\)/],
    ['a start that is not a real date', { start: '2026-02-30T09:00', tzid: 'UTC' }, /start is not a real date-time/],
    ['a start with an offset', { start: '2026-01-05T09:00:00Z', tzid: 'UTC' }, /start must be a local date-time/],
    ['a bad EXDATE', { start: '2026-01-05T09:00', tzid: 'UTC', exdates: ['nope'] }, /EXDATE 1 must be a local date-time/],
    ['too many EXDATEs', { start: '2026-01-05T09:00', tzid: 'UTC', exdates: Array.from({ length: 501 }, () => '2026-01-06T09:00') }, /exdates has 501 values; the limit is 500/],
    ['too many RDATEs', { start: '2026-01-05T09:00', tzid: 'UTC', rdates: Array.from({ length: 501 }, () => '2026-01-06T09:00') }, /rdates has 501 values; the limit is 500/],
    ['a date-time RDATE on an all-day series', { start: '2026-01-05', allDay: true, rdates: ['2026-01-06T09:00'] }, /RDATE 1 must be a date/],
  ])('refuses %s', (_label, series, message) => {
    expect(refusal(() => validateSeries(series))).toMatch(message);
  });
});

describe('wallClockToInstant', () => {
  it('applies the gap and fold policy', () => {
    expect(wallClockToInstant('2026-07-01T09:00', 'America/New_York')).toBe('2026-07-01T09:00:00-04:00');
    // 02:30 does not exist on 2026-03-08 in New York: it moves forward by the hour-long gap.
    expect(wallClockToInstant('2026-03-08T02:30', 'America/New_York')).toBe('2026-03-08T03:30:00-04:00');
    // 01:30 happens twice on 2026-11-01: the first one, still on daylight time.
    expect(wallClockToInstant('2026-11-01T01:30', 'America/New_York')).toBe('2026-11-01T01:30:00-04:00');
    expect(wallClockToInstant('20260101T090000', 'Europe/London')).toBe('2026-01-01T09:00:00Z');
    expect(refusal(() => wallClockToInstant('2026-01-01T09:00', 'Nowhere/Special'))).toMatch(/unknown time zone/);
  });
});

describe('expandSeries', () => {
  it('keeps 09:00 at 09:00 across spring-forward (the instants move by an hour)', () => {
    const { instances } = expandSeries(
      { start: '2026-03-06T09:00', tzid: 'America/New_York', duration: 'PT1H', rrule: 'FREQ=DAILY;COUNT=4' },
      ALL_TIME,
    );
    expect(instances).toEqual([
      { recurrenceId: '2026-03-06T14:00:00Z', start: '2026-03-06T09:00:00-05:00', end: '2026-03-06T10:00:00-05:00', startLocal: '2026-03-06T09:00:00', endLocal: '2026-03-06T10:00:00' },
      { recurrenceId: '2026-03-07T14:00:00Z', start: '2026-03-07T09:00:00-05:00', end: '2026-03-07T10:00:00-05:00', startLocal: '2026-03-07T09:00:00', endLocal: '2026-03-07T10:00:00' },
      { recurrenceId: '2026-03-08T13:00:00Z', start: '2026-03-08T09:00:00-04:00', end: '2026-03-08T10:00:00-04:00', startLocal: '2026-03-08T09:00:00', endLocal: '2026-03-08T10:00:00' },
      { recurrenceId: '2026-03-09T13:00:00Z', start: '2026-03-09T09:00:00-04:00', end: '2026-03-09T10:00:00-04:00', startLocal: '2026-03-09T09:00:00', endLocal: '2026-03-09T10:00:00' },
    ]);
  });

  it('shifts an instance in the spring-forward gap by the gap, and only that one', () => {
    const { instances } = expandSeries({ start: '2026-03-07T02:30', tzid: 'America/New_York', rrule: 'FREQ=DAILY;COUNT=3' }, ALL_TIME);
    expect(instances.map((i) => [i.recurrenceId, i.start, i.startLocal])).toEqual([
      ['2026-03-07T07:30:00Z', '2026-03-07T02:30:00-05:00', '2026-03-07T02:30:00'],
      ['2026-03-08T07:30:00Z', '2026-03-08T03:30:00-04:00', '2026-03-08T03:30:00'],
      ['2026-03-09T06:30:00Z', '2026-03-09T02:30:00-04:00', '2026-03-09T02:30:00'],
    ]);
  });

  it('takes the first of two 01:30s at fall-back', () => {
    const { instances } = expandSeries({ start: '2026-10-31T01:30', tzid: 'America/New_York', rrule: 'FREQ=DAILY;COUNT=3' }, ALL_TIME);
    expect(starts(instances)).toEqual(['2026-10-31T01:30:00-04:00', '2026-11-01T01:30:00-04:00', '2026-11-02T01:30:00-05:00']);
  });

  it('steps sub-daily rules through wall-clock time: the repeated hour once, a shifted instance merged with the next', () => {
    const fallBack = expandSeries({ start: '2026-11-01T00:00', tzid: 'America/New_York', rrule: 'FREQ=HOURLY;COUNT=4' }, ALL_TIME);
    expect(starts(fallBack.instances)).toEqual([
      '2026-11-01T00:00:00-04:00', '2026-11-01T01:00:00-04:00', '2026-11-01T02:00:00-05:00', '2026-11-01T03:00:00-05:00',
    ]);
    // 02:00 does not exist and moves to 03:00, where the 03:00 instance already is: four rule instances, three starts.
    const springForward = expandSeries({ start: '2026-03-08T00:00', tzid: 'America/New_York', rrule: 'FREQ=HOURLY;COUNT=4' }, ALL_TIME);
    expect(starts(springForward.instances)).toEqual(['2026-03-08T00:00:00-05:00', '2026-03-08T01:00:00-05:00', '2026-03-08T03:00:00-04:00']);
  });

  it('gives DTEND an exact length and DURATION days nominal lengths (RFC 5545 §3.8.5.3)', () => {
    const window = { from: '2026-03-07T00:00:00Z', to: '2026-03-08T00:00:00Z' };
    const exact = expandSeries({ start: '2026-03-06T12:00', tzid: 'America/New_York', end: '2026-03-07T12:00', rrule: 'FREQ=DAILY' }, window);
    const nominal = expandSeries({ start: '2026-03-06T12:00', tzid: 'America/New_York', duration: 'P1D', rrule: 'FREQ=DAILY' }, window);
    const on7th = (r: { instances: Instance[] }) => r.instances.find((i) => i.startLocal === '2026-03-07T12:00:00')!;
    expect(on7th(exact).end).toBe('2026-03-08T13:00:00-04:00'); // 24 hours later
    expect(on7th(nominal).end).toBe('2026-03-08T12:00:00-04:00'); // one calendar day later, 23 hours
  });

  describe('window', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'UTC', duration: 'PT2H', rrule: 'FREQ=DAILY;COUNT=5' };

    it('lists an instance that started before `from` and is still running', () => {
      const { instances } = expandSeries(series, { from: '2026-01-06T10:00:00Z', to: '2026-01-06T12:00:00Z' });
      expect(instances.map((i) => i.recurrenceId)).toEqual(['2026-01-06T09:00:00Z']);
    });

    it('leaves out an instance that ends exactly at `from`, and one that starts exactly at `to`', () => {
      const { instances } = expandSeries(series, { from: '2026-01-06T11:00:00Z', to: '2026-01-07T09:00:00Z' });
      expect(instances).toEqual([]);
    });

    it('counts a zero-length instance that starts in [from, to)', () => {
      const point: Series = { ...series, duration: null };
      expect(starts(expandSeries(point, { from: '2026-01-06T09:00:00Z', to: '2026-01-06T09:00:01Z' }).instances)).toEqual(['2026-01-06T09:00:00Z']);
      expect(expandSeries(point, { from: '2026-01-06T08:00:00Z', to: '2026-01-06T09:00:00Z' }).instances).toEqual([]);
    });

    it('compares instants, whatever offsets the window is written in', () => {
      const { instances } = expandSeries(
        { start: '2024-10-28T09:00', tzid: 'America/New_York', rrule: 'FREQ=WEEKLY' },
        { from: '2024-11-04T09:00:00-05:00', to: new Date('2024-11-11T14:00:00Z') },
      );
      expect(starts(instances)).toEqual(['2024-11-04T09:00:00-05:00']);
    });

    it('refuses an empty or malformed window and a bad limit', () => {
      expect(refusal(() => expandSeries(series, { from: '2026-01-06T00:00:00Z', to: '2026-01-06T00:00:00Z' }))).toMatch(/window to must be after from/);
      expect(refusal(() => expandSeries(series, { from: '2026-01-06', to: '2026-01-07T00:00:00Z' }))).toMatch(/window from must be an instant/);
      expect(refusal(() => expandSeries(series, { ...ALL_TIME, limit: 0 }))).toMatch(/limit must be a whole number from 1 to 1000 \(got 0\)/);
      expect(refusal(() => expandSeries(series, { ...ALL_TIME, limit: 5000 }))).toMatch(/limit must be a whole number from 1 to 1000/);
    });
  });

  it('returns at most `limit` instances, earliest first, and says when there are more', () => {
    const weekly: Series = { start: '2026-01-05T09:00', tzid: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;BYDAY=MO' };
    const year = { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' };
    const five = expandSeries(weekly, { ...year, limit: 5 });
    expect(five.truncated).toBe(true);
    expect(five.instances.map((i) => i.startLocal)).toEqual([
      '2026-01-05T09:00:00', '2026-01-12T09:00:00', '2026-01-19T09:00:00', '2026-01-26T09:00:00', '2026-02-02T09:00:00',
    ]);
    const all = expandSeries(weekly, { ...year, limit: 52 });
    expect(all.truncated).toBe(false);
    expect(all.instances).toHaveLength(52);
    expect(expandSeries(weekly, { ...year, limit: 51 }).truncated).toBe(true);
    expect(expandSeries(weekly, year).instances).toHaveLength(52); // default limit 100
  });

  it('removes EXDATEs and adds RDATEs; duplicates count once and EXDATE wins', () => {
    const { instances } = expandSeries(
      {
        start: '2026-01-05T09:00',
        tzid: 'Europe/Berlin',
        duration: 'PT1H',
        rrule: 'FREQ=WEEKLY;COUNT=4',
        // a wall-clock EXDATE, and the same kind of value as an instant (09:00 CET is 08:00Z)
        exdates: ['2026-01-12T09:00', '2026-01-26T08:00:00Z', '2026-02-20T09:00'],
        rdates: ['2026-01-14T18:30', '2026-01-19T09:00', '2026-02-20T09:00'],
      },
      ALL_TIME,
    );
    expect(instances.map((i) => [i.startLocal, i.endLocal])).toEqual([
      ['2026-01-05T09:00:00', '2026-01-05T10:00:00'],
      ['2026-01-14T18:30:00', '2026-01-14T19:30:00'],
      ['2026-01-19T09:00:00', '2026-01-19T10:00:00'],
    ]);
  });

  it('counts COUNT before EXDATEs remove instances (RFC 5545 §3.8.5.3)', () => {
    const { instances } = expandSeries(
      { start: '2026-01-05T09:00', tzid: 'UTC', rrule: 'FREQ=DAILY;COUNT=3', exdates: ['2026-01-06T09:00'] },
      ALL_TIME,
    );
    expect(instances.map((i) => i.startLocal)).toEqual(['2026-01-05T09:00:00', '2026-01-07T09:00:00']);
  });

  it('expands a series without RRULE to DTSTART plus its RDATEs', () => {
    const { instances } = expandSeries(
      { start: '2026-01-05T09:00', tzid: 'UTC', rdates: ['2026-01-07T09:00', '2026-01-05T09:00:00Z'] },
      ALL_TIME,
    );
    expect(instances.map((i) => i.startLocal)).toEqual(['2026-01-05T09:00:00', '2026-01-07T09:00:00']);
  });

  it('leaves out a DTSTART that does not match its RRULE', () => {
    const { instances } = expandSeries({ start: '2026-01-04T09:00', tzid: 'UTC', rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=2' }, ALL_TIME);
    expect(instances.map((i) => i.startLocal)).toEqual(['2026-01-05T09:00:00', '2026-01-12T09:00:00']);
  });

  describe('all-day series', () => {
    it('repeats dates, with an exclusive end date, placed in the series zone', () => {
      const result = expandSeries(
        { start: '2026-12-24', allDay: true, tzid: 'Europe/Berlin', end: '2026-12-27', rrule: 'FREQ=YEARLY;COUNT=2' },
        ALL_TIME,
      );
      expect(result.instances).toEqual([
        { recurrenceId: '2026-12-24', start: '2026-12-24T00:00:00+01:00', end: '2026-12-27T00:00:00+01:00', startLocal: '2026-12-24', endLocal: '2026-12-27' },
        { recurrenceId: '2027-12-24', start: '2027-12-24T00:00:00+01:00', end: '2027-12-27T00:00:00+01:00', startLocal: '2027-12-24', endLocal: '2027-12-27' },
      ]);
    });

    it('lasts one day by default and overlaps windows by its whole days', () => {
      const series: Series = { start: '2026-01-01', allDay: true, rrule: 'FREQ=WEEKLY' };
      const { instances } = expandSeries(series, { from: '2026-01-08T23:00:00Z', to: '2026-01-09T01:00:00Z' });
      expect(instances.map((i) => [i.startLocal, i.endLocal])).toEqual([['2026-01-08', '2026-01-09']]);
    });

    it('treats UNTIL as a DATE, inclusive', () => {
      const { instances } = expandSeries({ start: '2024-01-01', allDay: true, rrule: 'FREQ=DAILY;UNTIL=20240103' }, ALL_TIME);
      expect(instances.map((i) => i.recurrenceId)).toEqual(['2024-01-01', '2024-01-02', '2024-01-03']);
    });
  });

  describe('UNTIL', () => {
    it('as a DATE on a timed series runs through the end of that day in the series zone', () => {
      // 20:00 in Los Angeles on Jan 5 is already Jan 6 in UTC; the series' own day is what counts.
      const { instances } = expandSeries({ start: '2026-01-03T20:00', tzid: 'America/Los_Angeles', rrule: 'FREQ=DAILY;UNTIL=20260105' }, ALL_TIME);
      expect(starts(instances)).toEqual(['2026-01-03T20:00:00-08:00', '2026-01-04T20:00:00-08:00', '2026-01-05T20:00:00-08:00']);
    });

    it('in UTC is an inclusive instant', () => {
      const rule = (until: string) =>
        expandSeries({ start: '2026-01-03T09:00', tzid: 'Europe/Berlin', rrule: `FREQ=DAILY;UNTIL=${until}` }, ALL_TIME).instances.length;
      expect(rule('20260105T080000Z')).toBe(3); // exactly the third start
      expect(rule('20260105T075959Z')).toBe(2);
    });
  });

  it('expands a twenty-year-old weekly series for this month without walking its history', () => {
    const { instances, truncated } = expandSeries(
      { start: '2006-01-02T09:00', tzid: 'America/New_York', duration: 'PT1H', rrule: 'FREQ=WEEKLY;BYDAY=MO,WE' },
      { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' },
    );
    expect(truncated).toBe(false);
    expect(starts(instances)).toEqual([
      '2026-03-02T09:00:00-05:00', '2026-03-04T09:00:00-05:00', '2026-03-09T09:00:00-04:00', '2026-03-11T09:00:00-04:00',
      '2026-03-16T09:00:00-04:00', '2026-03-18T09:00:00-04:00', '2026-03-23T09:00:00-04:00', '2026-03-25T09:00:00-04:00',
      '2026-03-30T09:00:00-04:00',
    ]);
  });

  it('expands an old minutely series for a window without walking its history', () => {
    const { instances } = expandSeries(
      { start: '2018-04-02T06:40', tzid: 'UTC', rrule: 'FREQ=MINUTELY;BYSECOND=0' },
      { from: '2020-04-02T06:40:00Z', to: '2020-04-02T06:43:00Z' },
    );
    expect(starts(instances)).toEqual(['2020-04-02T06:40:00Z', '2020-04-02T06:41:00Z', '2020-04-02T06:42:00Z']);
  });

  it('answers rules that can never match at once, with no instances', () => {
    const empty = (rrule: string) =>
      expandSeries({ start: '2024-01-01T00:00', tzid: 'UTC', rrule }, { from: '2024-01-01T00:00:00Z', to: '9999-01-01T00:00:00Z' });
    expect(empty('FREQ=HOURLY;INTERVAL=2;BYHOUR=1')).toEqual({ instances: [], truncated: false });
    expect(empty('FREQ=HOURLY;INTERVAL=2;BYHOUR=1;COUNT=3')).toEqual({ instances: [], truncated: false });
    expect(empty('FREQ=DAILY;INTERVAL=7;BYDAY=TU')).toEqual({ instances: [], truncated: false }); // 2024-01-01 is a Monday
    expect(empty('FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31')).toEqual({ instances: [], truncated: false });
    expect(empty('FREQ=DAILY;BYHOUR=9;BYSETPOS=2')).toEqual({ instances: [], truncated: false });
  });

  it('bounds FREQ=SECONDLY by COUNT, UNTIL and the limit', () => {
    const { instances, truncated } = expandSeries(
      { start: '2026-01-01T00:00:00', tzid: 'UTC', rrule: 'FREQ=SECONDLY;UNTIL=20300101T000000Z' },
      { from: '2027-06-01T00:00:00Z', to: '2028-06-01T00:00:00Z', limit: 3 },
    );
    expect(truncated).toBe(true);
    expect(starts(instances)).toEqual(['2027-06-01T00:00:00Z', '2027-06-01T00:00:01Z', '2027-06-01T00:00:02Z']);
  });

  it('refuses an expansion over its iteration budget instead of running on', () => {
    // Fridays that are January 30th: a handful per century, walked day by day from DTSTART because of COUNT.
    const sparse: Series = { start: '2000-01-01T00:00', tzid: 'UTC', rrule: 'FREQ=DAILY;COUNT=24;BYMONTH=1;BYMONTHDAY=30;BYDAY=FR' };
    const window = { from: '2090-01-01T00:00:00Z', to: '2091-01-01T00:00:00Z' };
    expect(refusal(() => expandSeries(sparse, window))).toMatch(/needs more than its budget of 20000 iterations; ask for a narrower window/);
    expect(refusal(() => expandSeries(sparse, window, { maxIterations: 100 }))).toMatch(/budget of 100 iterations/);
    expect(expandSeries(sparse, { from: '2000-01-01T00:00:00Z', to: '2010-01-01T00:00:00Z' }).instances.map((i) => i.startLocal)).toEqual([
      '2004-01-30T00:00:00',
      '2009-01-30T00:00:00',
    ]);
  });

  it('gives the same instances for any window as one expansion of everything (property)', () => {
    const zones = ['America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'UTC'];
    const rules = [
      'FREQ=DAILY',
      'FREQ=DAILY;INTERVAL=3;BYHOUR=1,2,3',
      'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU',
      'FREQ=MONTHLY;BYDAY=-1FR',
      'FREQ=MONTHLY;BYMONTHDAY=31',
      'FREQ=YEARLY;BYMONTH=3,11;BYDAY=1SU',
      'FREQ=HOURLY;INTERVAL=5;BYMINUTE=0,30;BYDAY=SA',
      'FREQ=MINUTELY;INTERVAL=47;BYHOUR=1;BYDAY=MO,TH',
      'FREQ=YEARLY;BYWEEKNO=1,52;BYDAY=SA,SU',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.constantFrom(...rules),
        fc.constantFrom('PT0S', 'PT1H', 'P1D', 'PT30H', 'P8D'),
        fc.integer({ min: 0, max: 365 }), // DTSTART: days after 2024-01-01
        fc.integer({ min: 0, max: 47 }), // DTSTART: half-hours
        fc.integer({ min: 0, max: 24 * 365 * 2 }), // window start: hours after 2024-01-01
        fc.integer({ min: 1, max: 24 * 60 }), // window length in hours
        fc.integer({ min: 1, max: 40 }),
        (tzid, rrule, duration, day, halfHour, fromHour, hours, limit) => {
          const start = new Date(Date.UTC(2024, 0, 1 + day, 0, 30 * halfHour)).toISOString().slice(0, 19);
          const series: Series = { start, tzid, duration, rrule: `${rrule};UNTIL=20260101T000000Z` };
          const from = Date.UTC(2024, 0, 1, fromHour);
          const to = from + hours * 3_600_000;
          const roomy = { maxIterations: 100_000 }; // expanding everything walks a sub-daily rule through many periods
          const everything = expandSeries(series, { from: '2023-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', limit: 1000 }, roomy);
          if (everything.truncated) return; // more than one expansion can list; not a comparison we can make
          const overlapping = everything.instances.filter((i) => {
            const s = Date.parse(i.start);
            return s < to && (Date.parse(i.end) > from || s >= from);
          });
          const windowed = expandSeries(series, { from: new Date(from), to: new Date(to), limit }, roomy);
          expect(windowed.instances).toEqual(overlapping.slice(0, limit));
          expect(windowed.truncated).toBe(overlapping.length > limit);
        },
      ),
      { numRuns: 100, seed: 20260308 },
    );
  });
});

describe('splitSeries ("this and following")', () => {
  const expandAll = (series: Series) => expandSeries(series, ALL_TIME).instances;
  const halves = (series: Series, split: ReturnType<typeof splitSeries>) => [
    ...(split.headRRule ? expandAll({ ...series, rrule: split.headRRule }) : []),
    ...expandAll({ ...series, start: split.tailStart, rrule: split.tailRRule }),
  ];

  it('recomputes COUNT for both halves of a COUNT rule', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'Europe/Berlin', duration: 'PT1H', rrule: 'FREQ=WEEKLY;COUNT=10' };
    const fourth = expandAll(series)[3]!;
    const split = splitSeries(series, fourth.recurrenceId);
    expect(split).toEqual({
      headRRule: 'FREQ=WEEKLY;COUNT=3',
      tailStart: '2026-01-26T09:00:00',
      tailRRule: 'FREQ=WEEKLY;COUNT=7',
      tailCount: 7,
    });
    expect(halves(series, split)).toEqual(expandAll(series));
  });

  it('counts instances removed by EXDATE on the first half, as COUNT does', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'UTC', rrule: 'FREQ=DAILY;COUNT=5', exdates: ['2026-01-06T09:00'] };
    expect(splitSeries(series, '2026-01-08T09:00:00Z')).toMatchObject({ headRRule: 'FREQ=DAILY;COUNT=3', tailCount: 2 });
  });

  it('ends the first half one second before the split with UNTIL, and keeps the rule for the second', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260331T220000Z' };
    const split = splitSeries(series, '2026-01-14T09:00:00+01:00');
    expect(split).toEqual({
      headRRule: 'FREQ=WEEKLY;UNTIL=20260114T075959Z;BYDAY=MO,WE',
      tailStart: '2026-01-14T09:00:00',
      tailRRule: 'FREQ=WEEKLY;UNTIL=20260331T220000Z;BYDAY=MO,WE',
      tailCount: null,
    });
    expect(halves(series, split)).toEqual(expandAll(series));
  });

  it('splits an open-ended series', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'America/New_York', rrule: 'FREQ=MONTHLY;BYDAY=2TU' };
    const split = splitSeries(series, '2026-04-14T13:00:00Z');
    expect(split).toEqual({
      headRRule: 'FREQ=MONTHLY;UNTIL=20260414T125959Z;BYDAY=2TU',
      tailStart: '2026-04-14T09:00:00',
      tailRRule: 'FREQ=MONTHLY;BYDAY=2TU',
      tailCount: null,
    });
    const window = { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' };
    const head = expandSeries({ ...series, rrule: split.headRRule }, window).instances;
    const tail = expandSeries({ ...series, start: split.tailStart, rrule: split.tailRRule }, window).instances;
    expect([...head, ...tail]).toEqual(expandSeries(series, window).instances);
  });

  it('gives no first half when splitting at the first instance', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'UTC', rrule: 'FREQ=DAILY;COUNT=3' };
    expect(splitSeries(series, '2026-01-05T09:00:00Z')).toEqual({
      headRRule: null,
      tailStart: '2026-01-05T09:00:00',
      tailRRule: 'FREQ=DAILY;COUNT=3',
      tailCount: 3,
    });
    const open: Series = { ...series, rrule: 'FREQ=DAILY' };
    expect(splitSeries(open, '2026-01-05T09:00:00Z').headRRule).toBeNull();
  });

  it('splits an all-day series with a DATE UNTIL on the day before', () => {
    const series: Series = { start: '2026-01-01', allDay: true, rrule: 'FREQ=WEEKLY' };
    const split = splitSeries(series, '2026-01-15');
    expect(split).toMatchObject({ headRRule: 'FREQ=WEEKLY;UNTIL=20260114', tailStart: '2026-01-15', tailRRule: 'FREQ=WEEKLY' });
  });

  it('starts the second half at the rule time of an instance moved by a DST gap', () => {
    const series: Series = { start: '2026-03-06T02:30', tzid: 'America/New_York', rrule: 'FREQ=DAILY;COUNT=5' };
    const split = splitSeries(series, '2026-03-08T03:30:00-04:00');
    expect(split).toEqual({ headRRule: 'FREQ=DAILY;COUNT=2', tailStart: '2026-03-08T02:30:00', tailRRule: 'FREQ=DAILY;COUNT=3', tailCount: 3 });
    expect(starts(expandAll({ ...series, start: split.tailStart, rrule: split.tailRRule }))).toEqual([
      '2026-03-08T03:30:00-04:00', '2026-03-09T02:30:00-04:00', '2026-03-10T02:30:00-04:00',
    ]);
  });

  it('refuses a split the halves could not reproduce exactly (a sub-daily rule at a DST gap)', () => {
    // Every 30 minutes from midnight: 02:00 and 02:30 do not exist on 2026-03-08 and move to 03:00 and 03:30.
    // A second half starting at 03:30 would begin at the rule's 02:30 and list 03:00 again, before the split.
    const series: Series = { start: '2026-03-08T00:00', tzid: 'America/New_York', rrule: 'FREQ=MINUTELY;INTERVAL=30;COUNT=10' };
    expect(refusal(() => splitSeries(series, '2026-03-08T03:30:00-04:00'))).toMatch(/cannot split this series exactly at 2026-03-08T07:30:00Z/);
    const atGap = splitSeries(series, '2026-03-08T03:00:00-04:00');
    expect(atGap).toEqual({ headRRule: 'FREQ=MINUTELY;COUNT=4;INTERVAL=30', tailStart: '2026-03-08T02:00:00', tailRRule: 'FREQ=MINUTELY;COUNT=6;INTERVAL=30', tailCount: 6 });
    expect(halves(series, atGap)).toEqual(expandAll(series));
  });

  it('refuses a split that is not at an instance of the rule, or of a series without RRULE', () => {
    const series: Series = { start: '2026-01-05T09:00', tzid: 'UTC', rrule: 'FREQ=WEEKLY' };
    expect(refusal(() => splitSeries(series, '2026-01-06T09:00:00Z'))).toMatch(/2026-01-06T09:00:00Z is not an instance of this series' RRULE/);
    expect(refusal(() => splitSeries(series, 'soon'))).toMatch(/recurrenceId must be an instant/);
    expect(refusal(() => splitSeries({ start: '2026-01-05T09:00', tzid: 'UTC' }, '2026-01-05T09:00:00Z'))).toMatch(/no RRULE to split/);
  });
});
