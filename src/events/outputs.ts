import { z } from 'zod';
import type { Attendees, CalendarEvent, EventInstance, IcsExport, InstancePage, Reminder, Rsvp } from './types.js';

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
  createdAt: z.date(),
  updatedAt: z.date(),
}) satisfies z.ZodType<CalendarEvent>;

/** One instance with its override applied (`EventInstance`); `originalStart` is its RECURRENCE-ID. */
export const EventInstanceOutput = z.object({
  eventId: z.guid(),
  scopeId: z.guid(),
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
