import { invalid } from '../errors.js';
import type { calendarEvents, eventOverrides } from '../db/schema/index.js';
import { DEFAULT_LIMITS, expandSeries, wallClockToInstant, type Instance, type NormalizedSeries, type Series } from './recurrence/index.js';
import { compileSeries } from './recurrence/series.js';
import { resolveLimits } from './recurrence/limits.js';
import { formatUtc, formatWithOffset, parseDate, parseInstant, parseLocalDateTime, zonedFromWallClock, zonedStartOfDay } from './recurrence/time.js';
import type { CalendarEvent, EventInstance } from './types.js';

/*
 * Series rows + overrides → instances. The engine (./recurrence) expands the rule; this
 * file applies the overrides (RFC 5545 §3.8.4.4: an instance with a RECURRENCE-ID replaces
 * the one the rule generates at that original start) and keeps the bounds used to skip
 * series outside a window.
 */

export type EventRow = typeof calendarEvents.$inferSelect;
export type OverrideRow = typeof eventOverrides.$inferSelect;

/** The engine's view of a stored series. */
export function seriesOf(row: Pick<EventRow, 'startLocal' | 'tzid' | 'allDay' | 'duration' | 'rrule' | 'exdates' | 'rdates'>): Series {
  return {
    start: row.startLocal,
    tzid: row.tzid,
    allDay: row.allDay,
    duration: row.duration,
    rrule: row.rrule,
    exdates: row.exdates,
    rdates: row.rdates,
  };
}

/** Epoch ms of a value in the form of `Instance.recurrenceId` (a UTC instant, or a date in `tz` when all-day). */
export function recurrenceIdMs(id: string, allDay: boolean, tz: string): number {
  return allDay ? zonedStartOfDay(parseDate(id, 'originalStart'), tz).epochMilliseconds : parseInstant(id, 'originalStart');
}

/**
 * Canonical RECURRENCE-ID of a client's `originalStart`: any RFC 3339 instant becomes
 * `YYYY-MM-DDTHH:mm:ssZ`; an all-day series takes a date.
 * @throws Invalid when malformed.
 */
export function canonicalRecurrenceId(value: string, allDay: boolean): string {
  if (allDay) return parseDate(value, 'originalStart').toString();
  const ms = parseInstant(value, 'originalStart');
  if (ms % 1000 !== 0) throw invalid('originalStart must be in whole seconds');
  return formatUtc(ms);
}

/**
 * Derived bounds of a validated series: the earliest possible start, and the latest end
 * (null when the rule is open-ended, or too long to bound cheaply).
 */
export function seriesBounds(n: NormalizedSeries): { firstStart: Date; lastEnd: Date | null } {
  const c = compileSeries({ ...n, end: null }, resolveLimits());
  const instant = (v: string) => recurrenceIdMs(v, n.allDay, n.tzid);
  const startMs = c.allDay ? zonedStartOfDay(parseDate(n.start, 'start'), n.tzid).epochMilliseconds : Date.parse(wallClockToInstant(n.start, n.tzid));
  const listed = n.rdates.map(instant);
  const firstStart = new Date(Math.min(startMs, ...listed));
  const lastListed = Math.max(startMs, ...listed) + c.durationUpperMs + 2 * 86_400_000;
  if (!c.rule) return { firstStart, lastEnd: storable(lastListed) };
  if (c.rule.until) {
    const u = c.rule.until;
    const untilMs = u.kind === 'utc' ? parseInstant(u.utc, 'UNTIL') : zonedStartOfDay(parseDate(u.date, 'UNTIL'), n.tzid).epochMilliseconds + 2 * 86_400_000;
    return { firstStart, lastEnd: storable(Math.max(lastListed, untilMs + c.durationUpperMs + 86_400_000)) };
  }
  if (c.rule.count !== null) {
    const r = expandSeries({ ...n, end: null }, { from: firstStart, to: '9999-12-31T00:00:00Z', limit: DEFAULT_LIMITS.maxLimit });
    if (r.truncated) return { firstStart, lastEnd: null };
    const last = r.instances.at(-1);
    return { firstStart, lastEnd: storable(Math.max(lastListed, last ? Date.parse(last.end) + 1000 : 0)) };
  }
  return { firstStart, lastEnd: null };
}

/** 10000-01-01T00:00:00Z: PostgreSQL cannot read a later JS Date (`+010000-…`). */
const YEAR_10000_MS = Date.UTC(10_000, 0, 1);

/**
 * A bound as a Date, or null (no bound) when the padded bound passes the year 9999, as it
 * does for `UNTIL=99991231T235959Z`, the common way of writing "forever".
 */
function storable(ms: number): Date | null {
  return ms >= YEAR_10000_MS ? null : new Date(ms);
}

/** Start and end of an override's moved instance, in the output forms, or null when not moved. */
function movedTimes(row: EventRow, o: OverrideRow): { start: string; end: string; startLocal: string; endLocal: string } | null {
  if (!o.startLocal || !o.endLocal) return null;
  if (row.allDay) {
    return {
      start: formatWithOffset(zonedStartOfDay(parseDate(o.startLocal, 'start'), row.tzid)),
      end: formatWithOffset(zonedStartOfDay(parseDate(o.endLocal, 'end'), row.tzid)),
      startLocal: o.startLocal,
      endLocal: o.endLocal,
    };
  }
  return { start: wallClockToInstant(o.startLocal, row.tzid), end: wallClockToInstant(o.endLocal, row.tzid), startLocal: o.startLocal, endLocal: o.endLocal };
}

function toInstance(row: EventRow, i: Instance, o: OverrideRow | undefined): EventInstance {
  const moved = o ? movedTimes(row, o) : null;
  return {
    eventId: row.id,
    scopeId: row.scopeId,
    originalStart: i.recurrenceId,
    start: moved?.start ?? i.start,
    end: moved?.end ?? i.end,
    startLocal: moved?.startLocal ?? i.startLocal,
    endLocal: moved?.endLocal ?? i.endLocal,
    timeZone: row.tzid,
    allDay: row.allDay,
    title: o?.title ?? row.title,
    description: o?.description ?? row.description,
    location: o?.location ?? row.location,
    overridden: o !== undefined,
  };
}

/**
 * The rule's instance with RECURRENCE-ID `id`, or null when the series (as it is now)
 * has none: the test that decides whether an override is live or orphaned.
 */
export function ruleInstance(row: EventRow, id: string): Instance | null {
  const ms = recurrenceIdMs(id, row.allDay, row.tzid);
  const r = expandSeries(seriesOf(row), { from: new Date(ms), to: new Date(ms + 1), limit: DEFAULT_LIMITS.maxLimit });
  return r.instances.find((i) => i.recurrenceId === id) ?? null;
}

const overlaps = (startMs: number, endMs: number, fromMs: number, toMs: number) =>
  startMs < toMs && (endMs > fromMs || (startMs === endMs && startMs >= fromMs));

/**
 * Instances of one series overlapping `[fromMs, toMs)` (the engine's overlap rule), with
 * its overrides applied: cancelled ones removed, moved ones placed at their new time
 * (listed where they now are, wherever the original was), edited fields replaced.
 * Overrides whose original start is no longer an instance of the series are ignored.
 * Sorted by actual start. `truncated`: more instances may exist beyond the last one.
 */
export function seriesInstances(
  row: EventRow,
  overrides: readonly OverrideRow[],
  fromMs: number,
  toMs: number,
  limit: number,
): { items: EventInstance[]; truncated: boolean } {
  const byId = new Map(overrides.map((o) => [o.originalStart, o]));
  const want = Math.min(DEFAULT_LIMITS.maxLimit, limit + overrides.length);
  const r = expandSeries(seriesOf(row), { from: new Date(fromMs), to: new Date(toMs), limit: want });
  const items: EventInstance[] = [];
  const seen = new Set<string>();
  for (const i of r.instances) {
    seen.add(i.recurrenceId);
    const o = byId.get(i.recurrenceId);
    if (o?.cancelled) continue;
    const inst = toInstance(row, i, o);
    if (overlaps(Date.parse(inst.start), Date.parse(inst.end), fromMs, toMs)) items.push(inst);
  }
  for (const o of overrides) {
    if (o.cancelled || seen.has(o.originalStart) || !o.startAt || !o.endAt) continue;
    if (!overlaps(o.startAt.getTime(), o.endAt.getTime(), fromMs, toMs)) continue;
    const i = ruleInstance(row, o.originalStart);
    if (i) items.push(toInstance(row, i, o));
  }
  items.sort(compareInstances);
  return { items: items.slice(0, limit), truncated: r.truncated || items.length > limit };
}

/** Order of listings: actual start, then series id, then original start. */
export function compareInstances(a: EventInstance, b: EventInstance): number {
  return Date.parse(a.start) - Date.parse(b.start) || a.eventId.localeCompare(b.eventId) || a.originalStart.localeCompare(b.originalStart);
}

/** Output form of a stored series. */
export function toCalendarEvent(row: EventRow): CalendarEvent {
  return {
    id: row.id,
    scopeId: row.scopeId,
    createdBy: row.createdBy,
    parentId: row.parentId,
    title: row.title,
    description: row.description,
    location: row.location,
    allDay: row.allDay,
    start: row.startLocal,
    end: endOf(row),
    timeZone: row.tzid,
    duration: row.duration,
    rrule: row.rrule,
    exdates: row.exdates,
    rdates: row.rdates,
    capacity: row.capacity,
    sequence: row.sequence,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** DTSTART + duration as wall-clock time (nominal days, then exact time, as the engine does). */
function endOf(row: EventRow): string {
  if (row.allDay) {
    const days = /(\d+)D/.exec(row.duration)?.[1] ?? '1';
    const weeks = /(\d+)W/.exec(row.duration)?.[1] ?? '0';
    return parseDate(row.startLocal, 'start').add({ days: Number(days) + 7 * Number(weeks) }).toString();
  }
  const start = zonedFromWallClock(parseLocalDateTime(row.startLocal, 'start'), row.tzid);
  return start.add(row.duration).toPlainDateTime().toString({ smallestUnit: 'second' });
}
