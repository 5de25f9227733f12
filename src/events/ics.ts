import ical from 'ical-generator';
import { formatLocal, parseDate, wallAt } from './recurrence/time.js';
import { recurrenceIdMs, ruleInstance, toCalendarEvent, type EventRow, type OverrideRow } from './expansion.js';

/** `20260308T090000` (wall-clock, iCalendar basic form) of a UTC instant in `tz`. */
function basicLocal(ms: number, tz: string): string {
  return formatLocal(wallAt(ms, tz)).replace(/[-:]/g, '').slice(0, 15);
}

const basicDate = (d: string) => d.replace(/-/g, '');

/** EXDATE/RDATE property line (RFC 5545 §3.8.5.1, §3.8.5.2) in the series' zone, or null when empty. */
function dateList(name: 'EXDATE' | 'RDATE', row: EventRow, values: string[]): string | null {
  if (values.length === 0) return null;
  if (row.allDay) return `${name};VALUE=DATE:${values.map(basicDate).join(',')}`;
  return `${name};TZID=${row.tzid}:${values.map((v) => basicLocal(recurrenceIdMs(v, false, row.tzid), row.tzid)).join(',')}`;
}

/**
 * Builds an iCalendar document (RFC 5545) of series with their overrides, as Google and
 * Apple Calendar import it: per series one VEVENT with DTSTART;TZID (or VALUE=DATE),
 * DTEND, RRULE, EXDATE (cancelled instances included) and RDATE; per moved or edited
 * instance one more VEVENT with the same UID and RECURRENCE-ID (§3.8.4.4). Times are
 * wall-clock with TZID = the IANA name, which both importers resolve (no VTIMEZONE:
 * ical-generator 8 needs an external generator for one). Orphaned overrides are left out.
 */
export function buildIcs(name: string, rows: readonly EventRow[], overrides: Map<string, OverrideRow[]>): string {
  const cal = ical({ name, prodId: { company: 'guildhall', product: 'guildhall', language: 'EN' } });
  const allDayIds: string[] = [];
  for (const row of rows) {
    const e = toCalendarEvent(row);
    const ovs = (overrides.get(row.id) ?? []).filter((o) => ruleInstance(row, o.originalStart) !== null);
    const cancelled = ovs.filter((o) => o.cancelled).map((o) => o.originalStart);
    const lines = [
      row.rrule ? `RRULE:${row.rrule}` : null,
      dateList('EXDATE', row, [...row.exdates, ...cancelled]),
      dateList('RDATE', row, row.rdates),
    ].filter((l): l is string => l !== null);
    // ical-generator takes a one-line string as a bare RRULE value; repeat a lone
    // EXDATE/RDATE line (duplicates count once, RFC 5545 §3.8.5.2) to keep it a property.
    if (lines.length === 1 && !row.rrule) lines.push(lines[0]!);
    const uid = `${row.id}@guildhall`;
    cal.createEvent({
      id: uid,
      start: e.start,
      end: e.end,
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
        recurrenceId: row.allDay ? parseDate(o.originalStart, 'originalStart').toString() : inst.startLocal,
        summary: o.title ?? row.title,
        description: (o.description ?? row.description) || null,
        location: (o.location ?? row.location) || null,
        lastModified: o.updatedAt,
        // Each RECURRENCE-ID component has its own revisions, never behind its series' (RFC 5545 §3.8.7.4).
        sequence: Math.max(o.sequence, row.sequence),
      });
    }
  }
  let text = cal.toString();
  // ical-generator writes every RECURRENCE-ID as a DATE-TIME; an all-day series needs VALUE=DATE.
  for (const d of new Set(allDayIds)) text = text.replaceAll(`RECURRENCE-ID:${d}T000000Z`, `RECURRENCE-ID;VALUE=DATE:${d}`);
  // RFC 5545 §3.1: the last line ends with CRLF too; ical-generator leaves it off.
  return text.endsWith('\r\n') ? text : `${text}\r\n`;
}
