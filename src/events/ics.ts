import ical from 'ical-generator';
import { tzlib_get_ical_block } from 'timezones-ical-library';
import { expandSeries, parseRRule, type Instance } from './recurrence/index.js';
import { formatLocal, parseDate, parseLocalDateTime, wallAt, zonedAt, zonedFromWallClock } from './recurrence/time.js';
import { recurrenceIdMs, ruleInstance, seriesOf, toCalendarEvent, type EventRow, type OverrideRow } from './expansion.js';

/*
 * Instances in a spring-forward gap. The engine places a wall-clock time that does not
 * exist forward by the gap (02:30 → 03:30, RFC 5545 §3.3.5); some readers (ical.js) put
 * it elsewhere. So the export names such an instance by its nominal time (the rule's
 * 02:30, which every reader generates and matches the same way) in RECURRENCE-ID and
 * EXDATE, and gives it its own VEVENT at the real 03:30. Done for rules whose every
 * instance has DTSTART's time of day (no BYHOUR, BYMINUTE, BYSECOND, not sub-daily).
 */

/** DTSTART's time of day when every instance of the row's rule has it, else null. */
function fixedTimeOfDay(row: EventRow): string | null {
  if (row.allDay || !row.rrule) return null;
  const r = parseRRule(row.rrule);
  if (['HOURLY', 'MINUTELY', 'SECONDLY'].includes(r.freq) || r.byHour.length || r.byMinute.length || r.bySecond.length) return null;
  return formatLocal(parseLocalDateTime(row.startLocal, 'start')).slice(11);
}

/** The nominal wall-clock time (`YYYY-MM-DDTHH:mm:ss`) of an instance the gap moved, or null. */
function nominalInGap(ms: number, tz: string, timeOfDay: string | null): string | null {
  if (timeOfDay === null) return null;
  const prev = zonedAt(ms, tz).getTimeZoneTransition('previous');
  if (!prev) return null;
  const gapMs = (prev.offsetNanoseconds - prev.subtract({ nanoseconds: 1 }).offsetNanoseconds) / 1e6;
  if (gapMs <= 0 || ms - prev.epochMilliseconds >= gapMs) return null;
  const nominal = wallAt(ms, tz).subtract({ milliseconds: gapMs });
  const text = formatLocal(nominal);
  return text.slice(11) === timeOfDay && zonedFromWallClock(nominal, tz).epochMilliseconds === ms ? text : null;
}

/** The rule's instances that a gap moved, found around each spring-forward in the series' span (at most 40 transitions). */
function gapInstances(row: EventRow, timeOfDay: string | null): Instance[] {
  if (timeOfDay === null) return [];
  const out: Instance[] = [];
  const endMs = row.lastEnd?.getTime() ?? row.firstStart.getTime() + 10 * 366 * 86_400_000;
  let t = zonedAt(row.firstStart.getTime() - 2 * 86_400_000, row.tzid);
  for (let n = 0; n < 40; n++) {
    const next = t.getTimeZoneTransition('next');
    if (!next || next.epochMilliseconds > endMs) break;
    t = next;
    if (next.offsetNanoseconds <= next.subtract({ nanoseconds: 1 }).offsetNanoseconds) continue;
    const around = expandSeries(seriesOf(row), { from: new Date(next.epochMilliseconds - 86_400_000), to: new Date(next.epochMilliseconds + 86_400_000), limit: 50 });
    out.push(...around.instances.filter((i) => nominalInGap(Date.parse(i.start), row.tzid, timeOfDay) !== null));
  }
  return out;
}

/** `20260308T090000` (wall-clock, iCalendar basic form) of a UTC instant in `tz`. */
function basicLocal(ms: number, tz: string): string {
  return formatLocal(wallAt(ms, tz)).replace(/[-:]/g, '').slice(0, 15);
}

const basicDate = (d: string) => d.replace(/-/g, '');

/** EXDATE/RDATE property line (RFC 5545 §3.8.5.1, §3.8.5.2) in the series' zone, or null when empty. */
function dateList(name: 'EXDATE' | 'RDATE', row: EventRow, values: string[], timeOfDay: string | null = null): string | null {
  if (values.length === 0) return null;
  if (row.allDay) return `${name};VALUE=DATE:${values.map(basicDate).join(',')}`;
  const local = (v: string) => {
    const ms = recurrenceIdMs(v, false, row.tzid);
    const nominal = nominalInGap(ms, row.tzid, timeOfDay);
    return nominal ? nominal.replace(/[-:]/g, '') : basicLocal(ms, row.tzid);
  };
  return `${name};TZID=${row.tzid}:${values.map(local).join(',')}`;
}

/**
 * Builds an iCalendar document (RFC 5545) of series with their overrides, as Google and
 * Apple Calendar import it: per series one VEVENT with DTSTART;TZID (or VALUE=DATE),
 * DTEND, RRULE, EXDATE (cancelled instances included) and RDATE; per moved or edited
 * instance one more VEVENT with the same UID and RECURRENCE-ID (§3.8.4.4). Times are
 * wall-clock with TZID = the IANA name, and every TZID used has its VTIMEZONE (§3.6.5;
 * Outlook and ical.js read zones only from it), see `vtimezone`. SEQUENCE is the series'
 * (§3.8.7.4). Orphaned overrides are left out.
 */
export function buildIcs(name: string, rows: readonly EventRow[], overrides: Map<string, OverrideRow[]>): string {
  const cal = ical({ name, prodId: { company: 'guildhall', product: 'guildhall', language: 'EN' } });
  const allDayIds: string[] = [];
  const zones = new Set<string>();
  for (const row of rows) {
    if (!row.allDay) zones.add(row.tzid);
    const e = toCalendarEvent(row);
    const ovs = (overrides.get(row.id) ?? []).filter((o) => ruleInstance(row, o.originalStart) !== null);
    const cancelled = ovs.filter((o) => o.cancelled).map((o) => o.originalStart);
    const timeOfDay = fixedTimeOfDay(row);
    const lines = [
      row.rrule ? `RRULE:${row.rrule}` : null,
      dateList('EXDATE', row, [...row.exdates, ...cancelled], timeOfDay),
      dateList('RDATE', row, row.rdates),
    ].filter((l): l is string => l !== null);
    // ical-generator takes a one-line string as a bare RRULE value; repeat a lone
    // EXDATE/RDATE line (duplicates count once, RFC 5545 §3.8.5.2) to keep it a property.
    if (lines.length === 1 && !row.rrule) lines.push(lines[0]!);
    const uid = `${row.id}@guildhall`;
    // A one-time event is written where it happens (a start in a gap at its shifted time).
    const placed = !row.rrule && !row.allDay ? ruleInstance(row, formatUtcOf(row)) : null;
    cal.createEvent({
      id: uid,
      start: placed?.startLocal ?? e.start,
      end: placed?.endLocal ?? e.end,
      allDay: row.allDay,
      timezone: row.allDay ? null : row.tzid,
      summary: row.title,
      description: row.description || null,
      location: row.location || null,
      repeating: lines.length > 0 ? lines.join('\n') : null,
      created: row.createdAt,
      lastModified: row.updatedAt,
      sequence: row.sequence,
    });
    for (const o of ovs) {
      if (o.cancelled) continue;
      const inst = ruleInstance(row, o.originalStart)!;
      if (row.allDay) allDayIds.push(basicDate(o.originalStart));
      cal.createEvent({
        id: uid,
        start: o.startLocal ?? inst.startLocal,
        end: o.endLocal ?? inst.endLocal,
        allDay: row.allDay,
        timezone: row.allDay ? null : row.tzid,
        recurrenceId: row.allDay
          ? parseDate(o.originalStart, 'originalStart').toString()
          : (nominalInGap(Date.parse(inst.start), row.tzid, timeOfDay) ?? inst.startLocal),
        summary: o.title ?? row.title,
        description: (o.description ?? row.description) || null,
        location: (o.location ?? row.location) || null,
        lastModified: o.updatedAt,
        // Each RECURRENCE-ID component has its own revisions, never behind its series' (RFC 5545 §3.8.7.4).
        sequence: Math.max(o.sequence, row.sequence),
      });
    }
    const own = new Set(ovs.map((o) => o.originalStart));
    const excluded = new Set(row.exdates);
    for (const inst of gapInstances(row, timeOfDay)) {
      if (own.has(inst.recurrenceId) || excluded.has(inst.recurrenceId)) continue;
      cal.createEvent({
        id: uid,
        start: inst.startLocal,
        end: inst.endLocal,
        timezone: row.tzid,
        recurrenceId: nominalInGap(Date.parse(inst.start), row.tzid, timeOfDay)!,
        summary: row.title,
        description: row.description || null,
        location: row.location || null,
        lastModified: row.updatedAt,
        sequence: row.sequence,
      });
    }
  }
  let text = cal.toString();
  // ical-generator writes every RECURRENCE-ID as a DATE-TIME; an all-day series needs VALUE=DATE.
  for (const d of new Set(allDayIds)) text = text.replaceAll(`RECURRENCE-ID:${d}T000000Z`, `RECURRENCE-ID;VALUE=DATE:${d}`);
  if (zones.size > 0) {
    const at = text.indexOf('BEGIN:VEVENT');
    const blocks = [...zones].sort().map(vtimezone).join('');
    text = at < 0 ? text : `${text.slice(0, at)}${blocks}${text.slice(at)}`;
  }
  // RFC 5545 §3.1: the last line ends with CRLF too; ical-generator leaves it off.
  return text.endsWith('\r\n') ? text : `${text}\r\n`;
}

/**
 * The VTIMEZONE (RFC 5545 §3.6.5) of an IANA zone, CRLF-terminated: the block that
 * timezones-ical-library compiles from tzdata (the zone's current rules as RRULEs from
 * 1970, the form Google Calendar exports), with TZID set to the name our DTSTARTs use
 * (the library names aliases by their canonical zone: `US/Eastern` is America/New_York).
 * @throws Error for a zone the library does not know (every zone `resolveTimeZone` accepts is known).
 */
export function vtimezone(tz: string): string {
  const block = tzlib_get_ical_block(tz);
  if (!Array.isArray(block) || typeof block[0] !== 'string') throw new Error(`no VTIMEZONE for ${tz}`);
  const text = block[0]
    .replace(/\r?\n/g, '\r\n')
    .replace(/^TZID:.*$/m, `TZID:${tz}`)
    .replace(/^X-LIC-LOCATION:.*$/m, `X-LIC-LOCATION:${tz}`);
  return text.endsWith('\r\n') ? text : `${text}\r\n`;
}

/** RECURRENCE-ID of a one-time timed event's only instance (its DTSTART placed in its zone). */
function formatUtcOf(row: EventRow): string {
  return new Date(zonedFromWallClock(parseLocalDateTime(row.startLocal, 'start'), row.tzid).epochMilliseconds).toISOString().slice(0, 19) + 'Z';
}
