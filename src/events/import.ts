import ICAL from 'ical.js';
import { limits } from '../config.js';
import { AppError, invalid, tooLarge } from '../errors.js';
import { resolveTimeZone, wallAt, zonedFromWallClock, parseLocalDateTime, formatLocal, formatUtc } from './recurrence/time.js';
import type { EventService, SeriesFields } from './service.js';

/** One series an import created. */
export interface ImportedSeries {
  uid: string;
  eventId: string;
  title: string;
  /** Instances moved, edited or cancelled from the file's RECURRENCE-ID components. */
  exceptions: number;
}

/** One component an import could not take, and why. */
export interface ImportSkip {
  /** The component's UID, or its kind when it has none (VTODO, VJOURNAL, …). */
  uid: string;
  title: string | null;
  reason: string;
}

/** `events.importIcs`: what was created and what was left out. */
export interface ImportReport {
  created: ImportedSeries[];
  skipped: ImportSkip[];
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A DATE or DATE-TIME value as the events API takes it: a date, or wall-clock time in `tz`. */
function localIn(t: ICAL.Time, tzidParam: string | null, tz: string): string {
  if (t.isDate) return `${t.year}-${pad(t.month)}-${pad(t.day)}`;
  const wall = `${t.year}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`;
  const from = t.zone === ICAL.Timezone.utcTimezone ? 'UTC' : tzidParam ? resolveTimeZone(tzidParam) : tz;
  if (from === tz) return wall;
  return formatLocal(wallAt(zonedFromWallClock(parseLocalDateTime(wall, 'time'), from).epochMilliseconds, tz));
}

/** The zone of a DTSTART: its TZID (an IANA name); UTC for a `Z` time, a DATE, or a floating time (read as UTC). @throws Invalid for a TZID that is not an IANA zone. */
function zoneOf(p: ICAL.Property): string {
  const tzid = p.getParameter('tzid');
  return typeof tzid === 'string' && tzid ? resolveTimeZone(tzid) : 'UTC';
}

/** Values of every EXDATE or RDATE property of a component, as local values in `tz`. */
function dateValues(c: ICAL.Component, name: 'exdate' | 'rdate', tz: string): string[] {
  const out: string[] = [];
  for (const p of c.getAllProperties(name)) {
    const tzid = p.getParameter('tzid');
    for (const v of p.getValues()) {
      if (!(v instanceof ICAL.Time)) throw invalid(`${name.toUpperCase()} with PERIOD values is not supported`);
      out.push(localIn(v, typeof tzid === 'string' ? tzid : null, tz));
    }
  }
  return out;
}

const text = (c: ICAL.Component, name: string): string | undefined => {
  const v = c.getFirstPropertyValue(name);
  return typeof v === 'string' && v !== '' ? v : undefined;
};

/**
 * iCalendar import (RFC 5545, parsed with ical.js): each VEVENT without RECURRENCE-ID
 * becomes a series (DTSTART with its TZID, or UTC, or a DATE for all-day; DTEND or
 * DURATION; RRULE, EXDATE, RDATE; SUMMARY, DESCRIPTION, LOCATION), then each VEVENT with
 * the same UID and a RECURRENCE-ID becomes an override of that instance (STATUS:CANCELLED
 * a cancel). As Google Calendar's import does, each series is created on its own:
 * one that cannot be taken (an unknown zone, a rule the engine refuses, a second RRULE,
 * a lone RECURRENCE-ID without its series) is skipped with its reason and the rest go
 * in. Other components (VTODO, VJOURNAL, VFREEBUSY) are reported, not imported.
 * Needs CreateEvents in the scope, checked before any event (then again by `events.create`).
 * @throws TooLarge over `eventIcsImportMaxBytes` bytes or `eventIcsImportMaxSeries`
 *   series; Invalid when the text is not iCalendar; NotFound, Forbidden for the scope.
 */
export class IcsImportService {
  constructor(private readonly events: EventService) {}

  /** See the class docstring. */
  run(userId: string, scopeId: string, ics: string): Promise<ImportReport> {
    return importIcs(this.events, userId, scopeId, ics);
  }
}

async function importIcs(events: EventService, userId: string, scopeId: string, ics: string): Promise<ImportReport> {
  const bytes = Buffer.byteLength(ics, 'utf8');
  if (bytes > limits.eventIcsImportMaxBytes) {
    throw tooLarge(`the .ics is ${bytes} bytes; the import limit is ${limits.eventIcsImportMaxBytes} bytes: split the file`);
  }
  let cal: ICAL.Component;
  try {
    cal = new ICAL.Component(ICAL.parse(ics) as unknown[]);
  } catch (err) {
    throw invalid(`this is not an iCalendar document (${err instanceof Error ? err.message : String(err)})`);
  }
  if (cal.name !== 'vcalendar') throw invalid('an .ics import must be one VCALENDAR');
  // Refused as a whole when the caller may not create events there, not event by event.
  await events.requireCreate(userId, scopeId);
  const report: ImportReport = { created: [], skipped: [] };
  for (const c of cal.getAllSubcomponents()) {
    if (c.name !== 'vevent' && c.name !== 'vtimezone') report.skipped.push({ uid: text(c, 'uid') ?? c.name.toUpperCase(), title: text(c, 'summary') ?? null, reason: `${c.name.toUpperCase()} is not an event` });
  }
  const groups = new Map<string, ICAL.Component[]>();
  for (const v of cal.getAllSubcomponents('vevent')) {
    const uid = text(v, 'uid') ?? `(no UID #${groups.size + 1})`;
    groups.set(uid, [...(groups.get(uid) ?? []), v]);
  }
  const masters = [...groups.values()].filter((g) => g.some((c) => !c.hasProperty('recurrence-id'))).length;
  if (masters > limits.eventIcsImportMaxSeries) {
    throw tooLarge(`the .ics holds ${masters} series; at most ${limits.eventIcsImportMaxSeries} are imported at once: split the file`);
  }
  for (const [uid, comps] of groups) {
    const master = comps.find((c) => !c.hasProperty('recurrence-id'));
    const title = master ? (text(master, 'summary') ?? null) : null;
    if (!master) {
      for (const c of comps) report.skipped.push({ uid, title: text(c, 'summary') ?? null, reason: 'a RECURRENCE-ID without its series (no VEVENT with this UID and no RECURRENCE-ID)' });
      continue;
    }
    let created: { id: string; tz: string; allDay: boolean } | null = null;
    try {
      const f = seriesFields(master);
      const e = await events.create(userId, scopeId, { ...f, title: f.title ?? '(untitled)' });
      created = { id: e.id, tz: e.timeZone, allDay: e.allDay };
      report.created.push({ uid, eventId: e.id, title: e.title, exceptions: 0 });
    } catch (err) {
      report.skipped.push({ uid, title, reason: reasonOf(err) });
      continue;
    }
    const entry = report.created.at(-1)!;
    for (const x of comps.filter((c) => c !== master)) {
      try {
        const rid = x.getFirstProperty('recurrence-id')!;
        const ridTime = rid.getFirstValue() as ICAL.Time;
        const tzid = rid.getParameter('tzid');
        const local = localIn(ridTime, typeof tzid === 'string' ? tzid : null, created.tz);
        const originalStart = created.allDay ? local.slice(0, 10) : formatUtc(zonedFromWallClock(parseLocalDateTime(local, 'RECURRENCE-ID'), created.tz).epochMilliseconds);
        if (String(x.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED') {
          await events.cancelInstance(userId, created.id, originalStart);
        } else {
          const start = x.getFirstProperty('dtstart');
          const end = x.getFirstProperty('dtend');
          const at = (p: ICAL.Property | null) => {
            if (!p) return undefined;
            const z = p.getParameter('tzid');
            return localIn(p.getFirstValue() as ICAL.Time, typeof z === 'string' ? z : null, created!.tz);
          };
          await events.updateInstance(userId, created.id, originalStart, {
            title: text(x, 'summary'),
            description: text(x, 'description'),
            location: text(x, 'location'),
            start: at(start),
            end: at(end),
          });
        }
        entry.exceptions += 1;
      } catch (err) {
        report.skipped.push({ uid, title: text(x, 'summary') ?? title, reason: `its RECURRENCE-ID component: ${reasonOf(err)}` });
      }
    }
  }
  return report;
}

function reasonOf(err: unknown): string {
  if (err instanceof AppError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** The events API's fields for a master VEVENT. @throws Invalid for what it cannot carry. */
function seriesFields(v: ICAL.Component): SeriesFields & { start: string; timeZone: string } {
  const dtstart = v.getFirstProperty('dtstart');
  if (!dtstart) throw invalid('no DTSTART');
  if (v.getAllProperties('rrule').length > 1) throw invalid('more than one RRULE (RFC 5545 deprecates it; events keep one)');
  const s = dtstart.getFirstValue() as ICAL.Time;
  const tz = zoneOf(dtstart);
  const start = localIn(s, null, tz);
  const dtend = v.getFirstProperty('dtend');
  const duration = v.getFirstPropertyValue('duration');
  let end: string;
  if (dtend) {
    const z = dtend.getParameter('tzid');
    end = localIn(dtend.getFirstValue() as ICAL.Time, typeof z === 'string' ? z : null, tz);
  } else if (duration instanceof ICAL.Duration) {
    const e = s.clone();
    e.addDuration(duration);
    end = localIn(e, null, tz);
  } else {
    // RFC 5545 §3.6.1: without DTEND or DURATION a DATE lasts one day, a DATE-TIME no time.
    const e = s.clone();
    if (s.isDate) e.adjust(1, 0, 0, 0);
    end = localIn(e, null, tz);
  }
  const rrule = v.getFirstPropertyValue('rrule');
  return {
    title: text(v, 'summary'),
    description: text(v, 'description'),
    location: text(v, 'location'),
    start,
    end,
    allDay: s.isDate,
    timeZone: tz,
    rrule: rrule ? rrule.toString() : null,
    exdates: dateValues(v, 'exdate', tz),
    rdates: dateValues(v, 'rdate', tz),
  };
}
