import { z } from 'zod';
import type { Attendees, CalendarEvent, EventInstance, IcsExport, InstancePage, Reminder, Rsvp, SeriesEdit, SeriesSaved } from './types.js';

/** An event series (`CalendarEvent`): wall-clock `start`/`end` in `timeZone`, RFC 5545 RRULE, EXDATE, RDATE. */
export const CalendarEventOutput = z.object({
  id: z.guid(),
  scopeId: z.guid(),
  createdBy: z.guid().nullable(),
  parentId: z.guid().nullable(),
  title: z.string(),
  description: z.string(),
  location: z.string(),
  allDay: z.boolean(),
  start: z.string(),
  end: z.string(),
  timeZone: z.string(),
  duration: z.string(),
  rrule: z.string().nullable(),
  exdates: z.array(z.string()),
  rdates: z.array(z.string()),
  capacity: z.number().int().nullable(),
  /** RFC 5545 §3.8.7.4 SEQUENCE: rises on every change of the series. */
  sequence: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
}) satisfies z.ZodType<CalendarEvent>;

/** `events.create`: the series and `notices`, what the server did that the caller may not expect (e.g. a start in a DST gap moved). */
export const SeriesSavedOutput = CalendarEventOutput.extend({ notices: z.array(z.string()) }) satisfies z.ZodType<SeriesSaved>;

/** `events.update`, `events.updateFollowing`: the series, notices, and the overrides the edit left without an instance. */
export const SeriesEditOutput = SeriesSavedOutput.extend({
  orphaned: z.array(
    z.object({ originalStart: z.string(), cancelled: z.boolean(), title: z.string().nullable(), start: z.string().nullable() }),
  ),
}) satisfies z.ZodType<SeriesEdit>;

/**
 * A series or scope id in a listed instance: described as `z.guid()` describes it (format
 * and pattern, so the OpenAPI document is the same) and checked as a string. The ids come
 * from uuid columns; matching the guid pattern twice per instance was most of the output
 * check's cost on a page of 2,500 instances (about 1.3 of 1.5 ms, bench/calendar.ts).
 */
const ListedId = z.string().meta({ format: 'uuid', pattern: '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$' });

/** One instance with its override applied (`EventInstance`); `originalStart` is its RECURRENCE-ID. */
export const EventInstanceOutput = z.object({
  eventId: ListedId,
  scopeId: ListedId,
  originalStart: z.string(),
  start: z.string(),
  end: z.string(),
  startLocal: z.string(),
  endLocal: z.string(),
  timeZone: z.string(),
  allDay: z.boolean(),
  title: z.string(),
  description: z.string(),
  location: z.string(),
  overridden: z.boolean(),
}) satisfies z.ZodType<EventInstance>;

/** `events.instances`: sorted by start; pass `nextCursor` back. */
export const InstancePageOutput = z.object({
  items: z.array(EventInstanceOutput),
  nextCursor: z.string().nullable(),
  /** Series that could not be expanded and are left out; the others are listed. */
  failed: z.array(z.object({ eventId: ListedId, title: z.string(), message: z.string() })),
}) satisfies z.ZodType<InstancePage>;

const RsvpStatusOutput = z.enum(['going', 'maybe', 'declined', 'waitlisted']);

/** An RSVP answer (`Rsvp`); `instanceStart` null answers for the whole series. */
export const RsvpOutput = z.object({
  eventId: z.guid(),
  instanceStart: z.string().nullable(),
  userId: z.guid(),
  status: RsvpStatusOutput,
  respondedAt: z.date(),
}) satisfies z.ZodType<Rsvp>;

/** `events.attendees`: counts per status and the answers, going first, the waitlist in order. */
export const AttendeesOutput = z.object({
  eventId: z.guid(),
  instanceStart: z.string().nullable(),
  capacity: z.number().int().nullable(),
  counts: z.record(RsvpStatusOutput, z.number().int()),
  items: z.array(RsvpOutput),
}) satisfies z.ZodType<Attendees>;

/** The caller's reminders on an event, with their next fire. */
export const RemindersOutput = z.array(
  z.object({ eventId: z.guid(), minutes: z.number().int(), nextFireAt: z.date().nullable() }) satisfies z.ZodType<Reminder>,
);

/** `events.ics`: the text of an iCalendar (RFC 5545) file. */
export const IcsOutput = z.object({
  filename: z.string(),
  contentType: z.literal('text/calendar; charset=utf-8'),
  content: z.string(),
}) satisfies z.ZodType<IcsExport>;

/** `events.delete`. */
export const DeletedEventOutput = z.object({ deleted: z.literal(true) });

/** `events.cancelInstance`. */
export const CancelledInstanceOutput = z.object({ cancelled: z.literal(true), originalStart: z.string() });
