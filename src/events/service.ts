import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { calendarEvents, eventOverrides, eventReminders, eventRsvps } from '../db/schema/index.js';
import { invalid, notFound } from '../errors.js';
import { appendEvent, type Tx } from '../messages/log.js';
import { toScopeEvent, type ScopeEvent, type ScopeEventType } from '../messages/events.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import type { ScopeHub } from '../realtime/hub.js';
import { limits } from '../config.js';
import { DEFAULT_LIMITS, splitSeries, validateSeries, type NormalizedSeries, type Series } from './recurrence/index.js';
import { parseDate, parseLocalDateTime, resolveTimeZone, zonedFromWallClock, zonedStartOfDay } from './recurrence/time.js';
import {
  canonicalRecurrenceId,
  recurrenceIdMs,
  ruleInstance,
  seriesBounds,
  seriesInstances,
  seriesOf,
  toCalendarEvent,
  type EventRow,
} from './expansion.js';
import type { ReminderService } from './reminders.js';
import type { RsvpService } from './rsvp.js';
import type { CalendarEvent, EventInstance, IcsExport, InstancePage, SeriesEdit, SeriesSaved } from './types.js';
import { lockEvent, overridesOf, type EventReads } from './reads.js';
import { buildIcs } from './ics.js';
import { decodeCursor, listInstances, listingRow } from './listing.js';
import { carryExceptions } from './exceptions.js';
import { checkHasInstance, checkHorizon, checkListable, shiftedStart } from './saving.js';
import { Temporal } from 'temporal-polyfill';
import { keyShift, shiftKeys, type Anchor } from './remap.js';

/** Fields of a series a client sets on create and update. */
export interface SeriesFields {
  title?: string;
  description?: string;
  location?: string;
  /** Wall-clock `YYYY-MM-DDTHH:mm[:ss]` in `timeZone`, or a date when all-day. */
  start?: string;
  /** Same form; exclusive end date when all-day. */
  end?: string | null;
  allDay?: boolean;
  timeZone?: string;
  rrule?: string | null;
  exdates?: string[] | null;
  rdates?: string[] | null;
  capacity?: number | null;
}

/** Changes to one instance: new wall-clock start/end in the series' zone, and edited fields. */
export interface InstanceChanges {
  title?: string;
  description?: string;
  location?: string;
  start?: string;
  end?: string;
}

/**
 * Calendar events: series (one-time or recurring, RFC 5545 §3.8.5), single-instance
 * overrides (§3.8.4.4 RECURRENCE-ID) and "this and following" splits. Every change
 * appends an event to the scope's log in its transaction and is published after commit,
 * and reschedules the event's reminders.
 *
 * Overrides and series edits: an override is keyed by the original start, so it survives
 * edits of the series. When an edit (a new time, rule or EXDATE) leaves an override's
 * original start with no instance, the override is kept but orphaned: not listed, not
 * exported; it comes back if a later edit brings the instance back.
 */
export class EventService {
  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly reads: EventReads,
    private readonly hub: ScopeHub,
    private readonly rsvps: RsvpService,
    private readonly reminders: ReminderService,
  ) {}

  // ------------------------------------------------------------ series

  /**
   * Checks that `userId` may create events in `scopeId` (View and CreateEvents, not a
   * direct conversation), as `create` does, for callers that create several at once.
   * @throws NotFound (scope), Forbidden (no CreateEvents), Invalid (dm scope).
   */
  async requireCreate(userId: string, scopeId: string): Promise<void> {
    const a = await this.access.require(userId, scopeId, Permission.View | Permission.CreateEvents);
    if (a.scope.kind === 'dm') throw invalid('events live in communities, groups and rooms, not in direct conversations');
  }

  /**
   * Creates a series in a community, group or room.
   * @throws NotFound (scope), Forbidden (no CreateEvents), Invalid (bad series, dm scope).
   */
  async create(userId: string, scopeId: string, f: SeriesFields & { title: string; start: string; timeZone: string }): Promise<SeriesSaved> {
    const a = await this.access.require(userId, scopeId, Permission.View | Permission.CreateEvents);
    if (a.scope.kind === 'dm') throw invalid('events live in communities, groups and rooms, not in direct conversations');
    const notices: string[] = [];
    const n = normalize(f, notices);
    const { row, event } = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(calendarEvents)
        .values({ scopeId, createdBy: userId, title: f.title, description: f.description ?? '', location: f.location ?? '', capacity: f.capacity ?? null, ...stored(n) })
        .returning();
      const event = await logEvent(tx, scopeId, 'event.created', userId, { eventId: row!.id, title: row!.title });
      return { row: row!, event };
    });
    await this.hub.publish(event);
    warmListing(row);
    return { ...toCalendarEvent(row), notices };
  }

  /** One series. @throws NotFound (no such event, or the scope is hidden), Forbidden (no View). */
  async get(userId: string, eventId: string): Promise<CalendarEvent> {
    return toCalendarEvent(await this.reads.visible(userId, eventId));
  }

  /**
   * Edits a whole series. Omitted fields keep their values; a new `start` without `end`
   * keeps the duration. Exceptions follow the series (as in Google Calendar): when the
   * edit moves DTSTART, its zone or the all-day flag, every override, cancel, EXDATE,
   * RDATE (unless the edit gives its own lists) and per-instance RSVP moves by the same
   * wall-clock shift (see `keyShift`); an override with its own time keeps that time.
   * Overrides left without an instance (say, by a new rule) are kept and reported in
   * `orphaned`. SEQUENCE goes up by one (RFC 5545 §3.8.7.4).
   * @throws NotFound, Forbidden (neither creator nor ManageEvents), Invalid.
   */
  async update(userId: string, eventId: string, f: SeriesFields): Promise<SeriesEdit> {
    const current = await this.reads.manageable(userId, eventId);
    const merged = mergeSeries(current, f);
    const shift = keyShift(anchorOf(current), { start: merged.start!, tzid: anchorZone(merged), allDay: merged.allDay === true });
    if (f.exdates === undefined) merged.exdates = shiftKeys(current.exdates, shift);
    if (f.rdates === undefined) merged.rdates = shiftKeys(current.rdates, shift);
    const notices: string[] = [];
    const n = normalize(merged, notices);
    const { row, event, promoted, orphaned } = await this.db.transaction(async (tx) => {
      await lockEvent(tx, eventId);
      const [row] = await tx
        .update(calendarEvents)
        .set({
          ...stored(n),
          title: f.title ?? current.title,
          description: f.description ?? current.description,
          location: f.location ?? current.location,
          capacity: f.capacity === undefined ? current.capacity : f.capacity,
          sequence: sql`${calendarEvents.sequence} + 1`,
          updatedAt: new Date(),
        })
        .where(eq(calendarEvents.id, eventId))
        .returning();
      const orphaned = await carryExceptions(tx, eventId, row!, current.allDay, shift);
      const promoted = await this.rsvps.fillAllSeats(tx, row!);
      await this.reminders.reschedule(tx, row!);
      const event = await logEvent(tx, row!.scopeId, 'event.updated', userId, { eventId, title: row!.title });
      return { row: row!, event, promoted, orphaned };
    });
    await this.after(event, promoted);
    warmListing(row);
    return { ...toCalendarEvent(row), notices, orphaned };
  }

  /** Deletes a series with its overrides, RSVPs and reminders. @throws NotFound, Forbidden. */
  async delete(userId: string, eventId: string): Promise<{ deleted: true }> {
    const current = await this.reads.manageable(userId, eventId);
    const event = await this.db.transaction(async (tx) => {
      await tx.delete(calendarEvents).where(eq(calendarEvents.id, eventId));
      return logEvent(tx, current.scopeId, 'event.deleted', userId, { eventId });
    });
    await this.hub.publish(event);
    return { deleted: true };
  }

  // ------------------------------------------------------------ instances

  /**
   * Instances overlapping `[from, to)` of one series, or of every series in a scope and
   * its subtree that the caller may view, overrides applied, sorted by actual start (then
   * series id, original start), at most `limit`, cursor-paged (see `listInstances`: a
   * lazy merge of the series, each expanded a few instances at a time). A series that
   * cannot be expanded is left out and named in `failed`, so it never breaks the listing.
   * @throws NotFound, Forbidden (no View), Invalid (window, cursor).
   */
  async instances(
    userId: string,
    q: { scopeId?: string; eventId?: string; from: Date; to: Date; limit: number; cursor?: string },
  ): Promise<InstancePage> {
    const fromMs = q.from.getTime();
    const toMs = q.to.getTime();
    if (!(toMs > fromMs)) throw invalid('to must be after from');
    const cursor = q.cursor ? decodeCursor(q.cursor) : null;
    if (!q.eventId) {
      const l = await this.reads.listable(userId, q.scopeId!, fromMs, toMs);
      return listInstances(l.rows, l.overrides, fromMs, toMs, q.limit, cursor, l.version);
    }
    const rows = [await this.reads.visible(userId, q.eventId)];
    return listInstances(rows, await overridesOf(this.db, rows.map((r) => r.id)), fromMs, toMs, q.limit, cursor);
  }

  /**
   * Moves or edits one instance (RFC 5545 §3.8.4.4: an instance with RECURRENCE-ID).
   * `start`/`end` are wall-clock times in the series' zone (dates when all-day); a new
   * start without end keeps the instance's length. Editing it again merges. The
   * instance's own SEQUENCE goes up (RFC 5545 §3.8.7.4), never below the series'.
   * @throws NotFound (no such instance), Forbidden, Invalid.
   */
  async updateInstance(userId: string, eventId: string, originalStart: string, c: InstanceChanges): Promise<EventInstance> {
    const row = await this.reads.manageable(userId, eventId);
    const id = canonicalRecurrenceId(originalStart, row.allDay);
    const inst = ruleInstance(row, id);
    if (!inst) throw notFound(`${originalStart} is not an instance of this event`);
    const [existing] = await this.db.select().from(eventOverrides).where(and(eq(eventOverrides.eventId, eventId), eq(eventOverrides.originalStart, id)));
    if (existing?.cancelled) throw notFound(`the instance at ${id} is cancelled`);
    const baseStart = existing?.startLocal ?? inst.startLocal;
    const baseEnd = existing?.endLocal ?? inst.endLocal;
    const moved = c.start !== undefined || c.end !== undefined ? placeInstance(row, baseStart, baseEnd, c.start, c.end) : null;
    const values = {
      title: c.title ?? existing?.title ?? null,
      description: c.description ?? existing?.description ?? null,
      location: c.location ?? existing?.location ?? null,
      startLocal: moved?.startLocal ?? existing?.startLocal ?? null,
      endLocal: moved?.endLocal ?? existing?.endLocal ?? null,
      startAt: moved?.startAt ?? existing?.startAt ?? null,
      endAt: moved?.endAt ?? existing?.endAt ?? null,
      cancelled: false,
      sequence: Math.max(existing?.sequence ?? 0, row.sequence) + 1,
      updatedAt: new Date(),
    };
    const event = await this.db.transaction(async (tx) => {
      const locked = await lockEvent(tx, eventId);
      if (!existing) await checkOverrideRoom(tx, eventId);
      await tx
        .insert(eventOverrides)
        .values({ eventId, originalStart: id, ...values })
        .onConflictDoUpdate({ target: [eventOverrides.eventId, eventOverrides.originalStart], set: values });
      await this.reminders.reschedule(tx, locked);
      return logEvent(tx, row.scopeId, 'event.instance_updated', userId, { eventId, originalStart: id });
    });
    await this.hub.publish(event);
    const ovs = (await overridesOf(this.db, [eventId])).get(eventId) ?? [];
    const o = ovs.find((x) => x.originalStart === id)!;
    const startMs = (o.startAt ?? new Date(Date.parse(inst.start))).getTime();
    const found = seriesInstances(row, ovs, startMs, startMs + 1, DEFAULT_LIMITS.maxLimit).items.find((i) => i.originalStart === id);
    return found!;
  }

  /**
   * Cancels one instance (kept as a cancelled override, exported as EXDATE); the series'
   * SEQUENCE goes up, since its EXDATEs changed (RFC 5545 §3.8.7.4). @throws NotFound, Forbidden.
   */
  async cancelInstance(userId: string, eventId: string, originalStart: string): Promise<{ cancelled: true; originalStart: string }> {
    const row = await this.reads.manageable(userId, eventId);
    const id = canonicalRecurrenceId(originalStart, row.allDay);
    if (!ruleInstance(row, id)) throw notFound(`${originalStart} is not an instance of this event`);
    const event = await this.db.transaction(async (tx) => {
      const locked = await lockEvent(tx, eventId);
      await checkOverrideRoom(tx, eventId);
      await tx
        .insert(eventOverrides)
        .values({ eventId, originalStart: id, cancelled: true, sequence: locked.sequence + 1 })
        .onConflictDoUpdate({
          target: [eventOverrides.eventId, eventOverrides.originalStart],
          set: { cancelled: true, sequence: sql`greatest(${eventOverrides.sequence}, ${locked.sequence}) + 1`, updatedAt: new Date() },
        });
      // The cancel is an EXDATE of the series' VEVENT, so the series itself changed too.
      await tx.update(calendarEvents).set({ sequence: sql`${calendarEvents.sequence} + 1`, updatedAt: new Date() }).where(eq(calendarEvents.id, eventId));
      await this.reminders.reschedule(tx, locked);
      return logEvent(tx, row.scopeId, 'event.instance_cancelled', userId, { eventId, originalStart: id });
    });
    await this.hub.publish(event);
    return { cancelled: true, originalStart: id };
  }

  /**
   * "This and following" (RFC 5545 §3.8.4.4 RANGE=THISANDFUTURE, done as Google Calendar
   * does: two series). The series ends before `originalStart` (COUNT or UNTIL recomputed
   * by `splitSeries`; its SEQUENCE goes up); a new series, linked by `parentId`, starts at
   * that instance with `changes` applied. Every exception from the split on (overrides,
   * cancels, EXDATEs, RDATEs, per-instance RSVPs) moves to the new series, shifted by
   * the same wall-clock distance as its start when `changes` moves it (see `update`);
   * series RSVPs and reminders are copied. Overrides that no longer match an instance of
   * the new series are kept and reported in `orphaned`. Splitting at the first instance
   * edits the whole series instead.
   * @returns the new series (or the edited one).
   * @throws NotFound, Forbidden, Invalid (not a recurring instance; bad changes).
   */
  async updateFollowing(userId: string, eventId: string, originalStart: string, changes: SeriesFields): Promise<SeriesEdit> {
    const row = await this.reads.manageable(userId, eventId);
    if (!row.rrule) throw invalid('this event does not repeat; use events.update');
    const id = canonicalRecurrenceId(originalStart, row.allDay);
    const split = splitSeries(seriesOf(row), id);
    if (split.headRRule === null) return this.update(userId, eventId, changes);
    const splitMs = recurrenceIdMs(id, row.allDay, row.tzid);
    const before = (v: string) => recurrenceIdMs(v, row.allDay, row.tzid) < splitMs;
    const head = normalize({ ...mergeSeries(row, {}), rrule: split.headRRule, exdates: row.exdates.filter(before), rdates: row.rdates.filter(before) });
    const tailBase = normalize({
      ...mergeSeries(row, { start: split.tailStart }),
      rrule: split.tailRRule,
      exdates: row.exdates.filter((v) => !before(v)),
      rdates: row.rdates.filter((v) => !before(v)),
    });
    const merged = mergeSeries({ ...row, ...stored(tailBase) }, changes);
    const shift = keyShift(
      { start: tailBase.start, tzid: tailBase.tzid, allDay: tailBase.allDay },
      { start: merged.start!, tzid: anchorZone(merged), allDay: merged.allDay === true },
    );
    if (changes.exdates === undefined) merged.exdates = shiftKeys(tailBase.exdates, shift);
    if (changes.rdates === undefined) merged.rdates = shiftKeys(tailBase.rdates, shift);
    const notices: string[] = [];
    const tail = normalize(merged, notices);
    const { created, events, promoted, orphaned } = await this.db.transaction(async (tx) => {
      await lockEvent(tx, eventId);
      const [updatedHead] = await tx
        .update(calendarEvents)
        .set({ ...stored(head), sequence: sql`${calendarEvents.sequence} + 1`, updatedAt: new Date() })
        .where(eq(calendarEvents.id, eventId))
        .returning();
      const [created] = await tx
        .insert(calendarEvents)
        .values({
          scopeId: row.scopeId,
          createdBy: row.createdBy,
          parentId: row.id,
          title: changes.title ?? row.title,
          description: changes.description ?? row.description,
          location: changes.location ?? row.location,
          capacity: changes.capacity === undefined ? row.capacity : changes.capacity,
          ...stored(tail),
        })
        .returning();
      const newId = created!.id;
      const orphaned = await carryExceptions(tx, eventId, created!, row.allDay, shift, (k) => !before(k));
      const seriesRsvps = await tx.select().from(eventRsvps).where(and(eq(eventRsvps.eventId, eventId), eq(eventRsvps.instanceStart, '')));
      if (seriesRsvps.length > 0) await tx.insert(eventRsvps).values(seriesRsvps.map((r) => ({ ...r, eventId: newId })));
      const rems = await tx.select().from(eventReminders).where(eq(eventReminders.eventId, eventId));
      if (rems.length > 0) {
        await tx.insert(eventReminders).values(rems.map((r) => ({ userId: r.userId, eventId: newId, minutes: r.minutes })));
      }
      const promoted = await this.rsvps.fillAllSeats(tx, created!);
      await this.reminders.reschedule(tx, updatedHead!);
      await this.reminders.reschedule(tx, created!);
      const events = [
        await logEvent(tx, row.scopeId, 'event.split', userId, { eventId, newEventId: newId, originalStart: id }),
        await logEvent(tx, row.scopeId, 'event.created', userId, { eventId: newId, title: created!.title }),
      ];
      return { created: created!, events, promoted, orphaned };
    });
    for (const e of events) await this.hub.publish(e);
    for (const u of promoted) await this.hub.pokeUser(u);
    return { ...toCalendarEvent(created), notices, orphaned };
  }

  /**
   * iCalendar export (RFC 5545) of one series or of every series in a scope's viewable
   * subtree; see `buildIcs` for the shape. @throws NotFound, Forbidden (no View).
   */
  async ics(userId: string, q: { eventId?: string; scopeId?: string }): Promise<IcsExport> {
    let rows: EventRow[];
    let name: string;
    if (q.eventId) {
      const row = await this.reads.visible(userId, q.eventId);
      rows = [row];
      name = row.title;
    } else {
      const a = await this.access.require(userId, q.scopeId!, Permission.View);
      rows = await this.reads.seriesIn(await this.reads.viewableSubtree(userId, q.scopeId!));
      name = a.scope.name;
    }
    const content = buildIcs(name, rows, await overridesOf(this.db, rows.map((r) => r.id)));
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'calendar';
    return { filename: `${slug}.ics`, contentType: 'text/calendar; charset=utf-8', content };
  }

  private async after(event: ScopeEvent, promoted: string[]) {
    await this.hub.publish(event);
    for (const u of promoted) await this.hub.pokeUser(u);
  }
}

// ------------------------------------------------------------ helpers

/**
 * Validates fields as a series (the engine's checks, RFC 5545 §3.8.5, then `checkListable`).
 * A timed DTSTART in a spring-forward gap starts when the engine places it (forward by
 * the gap, RFC 5545 §3.3.5), and a sentence saying so goes to `notices`; when its end
 * would then come before its start (02:30–03:00 on a night that skips 02:00–03:00), the
 * event keeps its wall-clock length instead (03:30–04:00), as Google Calendar does.
 * @throws Invalid.
 */
function normalize(f: SeriesFields, notices?: string[]): NormalizedSeries {
  if (!f.allDay && (f.end === undefined || f.end === null)) throw invalid('a timed event needs an end; or set allDay');
  let end = f.end ?? null;
  if (!f.allDay && f.start && end && f.timeZone) {
    const tz = resolveTimeZone(f.timeZone);
    const shifted = shiftedStart(f.start, tz);
    if (shifted !== null) {
      const wall = parseLocalDateTime(f.start, 'start');
      const endWall = parseLocalDateTime(end, 'end');
      const startAt = zonedFromWallClock(wall, tz);
      if (zonedFromWallClock(endWall, tz).epochMilliseconds < startAt.epochMilliseconds && Temporal.PlainDateTime.compare(endWall, wall) >= 0) {
        end = startAt.add(wall.until(endWall)).toPlainDateTime().toString({ smallestUnit: 'second' });
      }
      notices?.push(
        `${wall.toString({ smallestUnit: 'second' })} does not exist in ${tz} (the clocks go forward then); the event starts at ${shifted}` +
          (end !== f.end ? ` and ends at ${end}, keeping its length` : ''),
      );
    }
  }
  const series: Series = {
    start: f.start!,
    end,
    allDay: f.allDay === true,
    tzid: f.timeZone,
    rrule: f.rrule ?? null,
    exdates: f.exdates ?? null,
    rdates: f.rdates ?? null,
  };
  const n = validateSeries(series);
  checkListable(n);
  checkHorizon(n);
  checkHasInstance(n);
  return n;
}

/** The stored columns of a normalized series. */
function stored(n: NormalizedSeries) {
  const b = seriesBounds(n);
  return {
    allDay: n.allDay,
    startLocal: n.start,
    tzid: n.tzid,
    duration: n.duration,
    rrule: n.rrule,
    exdates: n.exdates,
    rdates: n.rdates,
    firstStart: b.firstStart,
    lastEnd: b.lastEnd,
  };
}

/** Computes the listing form of a saved series now (a COUNT rule's UNTIL), so the first listing need not. */
function warmListing(row: EventRow): void {
  try {
    listingRow(row);
  } catch {
    // The listing computes it again, and reports a failure there.
  }
}

/** A stored series' anchor (DTSTART, zone, all-day), the frame its exception keys are in. */
function anchorOf(row: EventRow): Anchor {
  return { start: row.startLocal, tzid: row.tzid, allDay: row.allDay };
}

/** The zone merged fields will be stored in (an all-day series given none is kept in UTC, as `validateSeries` does). */
function anchorZone(f: SeriesFields): string {
  return f.timeZone ?? 'UTC';
}

/** The series fields after `f` is applied to `row`; a new start without end keeps the duration. */
function mergeSeries(row: EventRow, f: SeriesFields): SeriesFields {
  const allDay = f.allDay ?? row.allDay;
  // Checked before it is used below, so a bad zone is the caller's BAD_REQUEST, not a RangeError.
  const timeZone = f.timeZone === undefined ? row.tzid : resolveTimeZone(f.timeZone);
  const start = f.start ?? row.startLocal;
  let end = f.end ?? null;
  if (end === null && !allDay) {
    const s = zonedFromWallClock(parseLocalDateTime(start, 'start'), timeZone);
    end = s.add(row.allDay ? 'PT1H' : row.duration).toPlainDateTime().toString({ smallestUnit: 'second' });
  } else if (end === null && allDay && row.allDay) {
    end = parseDate(start, 'start').add({ days: Number(/(\d+)D/.exec(row.duration)?.[1] ?? '1') }).toString();
  }
  return {
    start,
    end,
    allDay,
    timeZone,
    rrule: f.rrule === undefined ? row.rrule : f.rrule,
    exdates: f.exdates === undefined ? row.exdates : f.exdates,
    rdates: f.rdates === undefined ? row.rdates : f.rdates,
  };
}

/** A moved instance's times: new start (and end), keeping the length when only the start moves. */
function placeInstance(row: EventRow, baseStart: string, baseEnd: string, start: string | undefined, end: string | undefined) {
  if (row.allDay) {
    const s0 = parseDate(baseStart, 'start');
    const e0 = parseDate(baseEnd, 'end');
    const s = start !== undefined ? parseDate(start, 'start') : s0;
    const e = end !== undefined ? parseDate(end, 'end') : s.add({ days: s0.until(e0).days });
    if (s.until(e).days <= 0) throw invalid(`end (${e.toString()}) must be after start (${s.toString()}); an all-day end date is exclusive`);
    return {
      startLocal: s.toString(),
      endLocal: e.toString(),
      startAt: new Date(zonedStartOfDay(s, row.tzid).epochMilliseconds),
      endAt: new Date(zonedStartOfDay(e, row.tzid).epochMilliseconds),
    };
  }
  const z0 = zonedFromWallClock(parseLocalDateTime(baseStart, 'start'), row.tzid);
  const lengthMs = zonedFromWallClock(parseLocalDateTime(baseEnd, 'end'), row.tzid).epochMilliseconds - z0.epochMilliseconds;
  const s = start !== undefined ? zonedFromWallClock(parseLocalDateTime(start, 'start'), row.tzid) : z0;
  const e = end !== undefined ? zonedFromWallClock(parseLocalDateTime(end, 'end'), row.tzid) : s.add({ milliseconds: lengthMs });
  if (e.epochMilliseconds < s.epochMilliseconds) throw invalid(`end (${e.toPlainDateTime().toString()}) is before start (${s.toPlainDateTime().toString()})`);
  return {
    startLocal: s.toPlainDateTime().toString({ smallestUnit: 'second' }),
    endLocal: e.toPlainDateTime().toString({ smallestUnit: 'second' }),
    startAt: new Date(s.epochMilliseconds),
    endAt: new Date(e.epochMilliseconds),
  };
}

async function checkOverrideRoom(tx: Tx, eventId: string) {
  const [r] = await tx.select({ n: sql<number>`count(*)::int` }).from(eventOverrides).where(eq(eventOverrides.eventId, eventId));
  if ((r?.n ?? 0) >= limits.eventOverridesMax) {
    throw invalid(`this event already has ${limits.eventOverridesMax} changed or cancelled instances; edit the series instead`);
  }
}

async function logEvent(tx: Tx, scopeId: string, type: ScopeEventType, actorId: string, payload: Record<string, unknown>): Promise<ScopeEvent> {
  return toScopeEvent(await appendEvent(tx, { scopeId, type, actorId, payload }), null);
}

