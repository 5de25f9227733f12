import { z } from 'zod';
import { limits } from '../config.js';
import { ScopeId } from '../scopes/router.js';
import { authedProcedure, router } from '../trpc.js';
import { DEFAULT_LIMITS } from './recurrence/index.js';
import { AttendeesOutput, CalendarEventOutput, CancelledInstanceOutput, DeletedEventOutput, EventInstanceOutput, IcsOutput, InstancePageOutput, RemindersOutput, RsvpOutput, SeriesEditOutput, SeriesSavedOutput } from './outputs.js';

export const EventId = z.uuid({ message: 'eventId must be an event id (uuid)' });
/** A wall-clock date-time (`2026-03-08T09:00:00`) or date (`2026-03-08`); the engine checks the form. */
const LocalTime = z.string().min(1).max(40, 'a date-time must be at most 40 characters');
const Title = z.string().trim().min(1, 'title must not be empty').max(limits.eventTitleMax);
const Description = z.string().max(limits.eventDescriptionMax);
const Location = z.string().max(limits.eventLocationMax);
const RRuleText = z
  .string()
  .max(DEFAULT_LIMITS.maxRRuleLength, `rrule must be at most ${DEFAULT_LIMITS.maxRRuleLength} characters`)
  .nullable();
const DateList = (name: string, max: number) => z.array(LocalTime).max(max, `${name} may hold at most ${max} values`).nullable();
const Capacity = z.number().int().min(1).max(limits.eventCapacityMax).nullable();
/** An instance's original start (RECURRENCE-ID): an RFC 3339 instant, or a date for an all-day event. */
const OriginalStart = z.string().min(1).max(40);

const SeriesChanges = {
  title: Title.optional(),
  description: Description.optional(),
  location: Location.optional(),
  start: LocalTime.optional(),
  end: LocalTime.nullable().optional(),
  allDay: z.boolean().optional(),
  timeZone: z.string().min(1).max(64).optional(),
  rrule: RRuleText.optional(),
  exdates: DateList('exdates', DEFAULT_LIMITS.maxExdates).optional(),
  rdates: DateList('rdates', DEFAULT_LIMITS.maxRdates).optional(),
  capacity: Capacity.optional(),
};

export const CreateEventInput = z.object({
  scopeId: ScopeId,
  ...SeriesChanges,
  title: Title,
  start: LocalTime,
  timeZone: z.string().min(1).max(64),
});

export const UpdateEventInput = z.object({ eventId: EventId, ...SeriesChanges });

export const EventRef = z.object({ eventId: EventId });

export const InstancesInput = z
  .object({
    scopeId: ScopeId.optional(),
    eventId: EventId.optional(),
    from: z.coerce.date({ error: 'from must be a date-time, e.g. 2026-01-01T00:00:00Z' }),
    to: z.coerce.date({ error: 'to must be a date-time, e.g. 2027-01-01T00:00:00Z' }),
    limit: z.number().int().min(1).max(limits.instancesPageMax).default(limits.instancesPageDefault),
    cursor: z.string().max(8000).optional(),
  })
  .refine((i) => (i.scopeId === undefined) !== (i.eventId === undefined), { message: 'give exactly one of scopeId and eventId' })
  .refine((i) => i.to.getTime() > i.from.getTime(), { message: 'to must be after from', path: ['to'] });

export const InstanceRef = z.object({ eventId: EventId, originalStart: OriginalStart });

export const UpdateInstanceInput = InstanceRef.extend({
  title: Title.optional(),
  description: Description.optional(),
  location: Location.optional(),
  start: LocalTime.optional(),
  end: LocalTime.optional(),
});

export const UpdateFollowingInput = InstanceRef.extend(SeriesChanges);

export const RsvpInput = z.object({
  eventId: EventId,
  /** Omit to answer for the whole series. */
  instanceStart: OriginalStart.optional(),
  /** null withdraws the answer. */
  status: z.enum(['going', 'maybe', 'declined']).nullable(),
});

export const AttendeesInput = z.object({ eventId: EventId, instanceStart: OriginalStart.optional() });

export const SetRemindersInput = z.object({
  eventId: EventId,
  minutes: z
    .array(z.number().int().min(0).max(limits.eventReminderMinutesMax, `a reminder may be at most ${limits.eventReminderMinutesMax} minutes (28 days) ahead`))
    .max(limits.eventRemindersMax, `at most ${limits.eventRemindersMax} reminders per event`),
});

export const IcsInput = z
  .object({ eventId: EventId.optional(), scopeId: ScopeId.optional() })
  .refine((i) => (i.scopeId === undefined) !== (i.eventId === undefined), { message: 'give exactly one of scopeId and eventId' });

export const ImportIcsInput = z.object({
  scopeId: ScopeId,
  /** The .ics text; its size is checked against `eventIcsImportMaxBytes` (PAYLOAD_TOO_LARGE). */
  ics: z.string().min(1, 'ics must not be empty'),
});

const ImportReportOutput = z.object({
  created: z.array(z.object({ uid: z.string(), eventId: z.string(), title: z.string(), exceptions: z.number().int() })),
  skipped: z.array(z.object({ uid: z.string(), title: z.string().nullable(), reason: z.string() })),
});
const FeedOutput = z.object({ path: z.string(), createdAt: z.date() });
const FeedStatusOutput = z.object({ active: z.boolean(), createdAt: z.date().nullable() });

/** Calendar events: series, instances, overrides, RSVPs, reminders, iCalendar export, feeds and import. */
export const eventsRouter = router({
  /**
   * Creates an event: `{ scopeId, title, description?, location?, start, end | allDay,
   * timeZone, rrule?, exdates?, rdates?, capacity? }`. `start`/`end` are wall-clock in
   * `timeZone` (dates, end exclusive, when all-day); RRULE per RFC 5545 §3.3.10.
   * Needs CreateEvents. @throws BAD_REQUEST naming the bad field, FORBIDDEN, NOT_FOUND.
   */
  create: authedProcedure
    .input(CreateEventInput)
    .output(SeriesSavedOutput)
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/events', tags: ['events'], summary: 'Create an event' } })
    .mutation(({ ctx, input: { scopeId, ...f } }) => ctx.svc.events.create(ctx.user.id, scopeId, f)),
  /** One series. Needs View. @throws NOT_FOUND. */
  get: authedProcedure
    .input(EventRef)
    .output(CalendarEventOutput)
    .meta({ openapi: { method: 'GET', path: '/events/{eventId}', tags: ['events'], summary: 'One event series' } })
    .query(({ ctx, input }) => ctx.svc.events.get(ctx.user.id, input.eventId)),
  /** Edits a whole series (omitted fields kept). Creator or ManageEvents. @throws BAD_REQUEST, FORBIDDEN, NOT_FOUND. */
  update: authedProcedure
    .input(UpdateEventInput)
    .output(SeriesEditOutput)
    .meta({ openapi: { method: 'PATCH', path: '/events/{eventId}', tags: ['events'], summary: 'Edit a whole series' } })
    .mutation(({ ctx, input: { eventId, ...f } }) => ctx.svc.events.update(ctx.user.id, eventId, f)),
  /** Deletes a series. Creator or ManageEvents. @throws FORBIDDEN, NOT_FOUND. */
  delete: authedProcedure
    .input(EventRef)
    .output(DeletedEventOutput)
    .meta({ openapi: { method: 'DELETE', path: '/events/{eventId}', tags: ['events'], summary: 'Delete a series' } })
    .mutation(({ ctx, input }) => ctx.svc.events.delete(ctx.user.id, input.eventId)),
  /**
   * Instances overlapping `[from, to)` of one event or of a scope and its viewable
   * subtree, sorted by start, overrides applied: `{ items, nextCursor }`. `limit` 1–2,500,
   * default 250 (Google Calendar's cap and default of `events.list` `maxResults`).
   */
  instances: authedProcedure
    .input(InstancesInput)
    .output(InstancePageOutput)
    .meta({ openapi: { method: 'GET', path: '/events/instances', tags: ['events'], summary: 'Instances in a time window' } })
    .query(({ ctx, input }) => ctx.svc.events.instances(ctx.user.id, input)),
  /** Moves or edits one instance, keyed by its original start (RECURRENCE-ID). Creator or ManageEvents. */
  updateInstance: authedProcedure
    .input(UpdateInstanceInput)
    .output(EventInstanceOutput).meta({ openapi: { method: 'PATCH', path: '/events/{eventId}/instances/{originalStart}', tags: ['events'], summary: 'Move or edit one instance' } })
    .mutation(({ ctx, input: { eventId, originalStart, ...c } }) => ctx.svc.events.updateInstance(ctx.user.id, eventId, originalStart, c)),
  /** Cancels one instance. Creator or ManageEvents. */
  cancelInstance: authedProcedure
    .input(InstanceRef)
    .output(CancelledInstanceOutput).meta({ openapi: { method: 'DELETE', path: '/events/{eventId}/instances/{originalStart}', tags: ['events'], summary: 'Cancel one instance' } })
    .mutation(({ ctx, input }) => ctx.svc.events.cancelInstance(ctx.user.id, input.eventId, input.originalStart)),
  /** "This and following": ends the series before the instance and starts a new, linked one with the changes. */
  updateFollowing: authedProcedure
    .input(UpdateFollowingInput)
    .output(SeriesEditOutput).meta({ openapi: { method: 'POST', path: '/events/{eventId}/instances/{originalStart}/following', tags: ['events'], summary: 'Edit this and following instances (splits the series)' } })
    .mutation(({ ctx, input: { eventId, originalStart, ...c } }) => ctx.svc.events.updateFollowing(ctx.user.id, eventId, originalStart, c)),
  /** Answers going / maybe / declined (null withdraws) for the series or one instance; over capacity → waitlisted. Needs View. */
  rsvp: authedProcedure
    .input(RsvpInput)
    .output(RsvpOutput.nullable()).meta({ openapi: { method: 'PUT', path: '/events/{eventId}/rsvp', tags: ['events'], summary: 'Answer going, maybe or declined' } })
    .mutation(({ ctx, input }) => ctx.svc.rsvps.respond(ctx.user.id, input.eventId, input.instanceStart, input.status)),
  /** The answers for the series or one instance, with counts. Needs View. */
  attendees: authedProcedure
    .input(AttendeesInput)
    .output(AttendeesOutput)
    .meta({ openapi: { method: 'GET', path: '/events/{eventId}/attendees', tags: ['events'], summary: 'The answers, with counts' } })
    .query(({ ctx, input }) => ctx.svc.rsvps.attendees(ctx.user.id, input.eventId, input.instanceStart)),
  /** Replaces the caller's reminders on an event: minutes before each instance (0–40,320, at most 5). Needs View. */
  setReminders: authedProcedure
    .input(SetRemindersInput)
    .output(RemindersOutput)
    .meta({ openapi: { method: 'PUT', path: '/events/{eventId}/reminders', tags: ['events'], summary: 'Replace your reminders on an event' } })
    .mutation(({ ctx, input }) => ctx.svc.reminders.set(ctx.user.id, input.eventId, input.minutes)),
  /** The caller's reminders on an event, with their next fire. */
  reminders: authedProcedure
    .input(EventRef)
    .output(RemindersOutput)
    .meta({ openapi: { method: 'GET', path: '/events/{eventId}/reminders', tags: ['events'], summary: 'Your reminders on an event' } })
    .query(({ ctx, input }) => ctx.svc.reminders.list(ctx.user.id, input.eventId)),
  /** iCalendar (RFC 5545) of one event or a scope: `{ filename, contentType, content }`. Needs View. */
  ics: authedProcedure
    .input(IcsInput)
    .output(IcsOutput)
    .meta({ openapi: { method: 'GET', path: '/events/ics', tags: ['events'], summary: 'iCalendar export of an event or a scope' } })
    .query(({ ctx, input }) => ctx.svc.events.ics(ctx.user.id, input)),
  /**
   * Imports an .ics file into a scope (parsed with ical.js): `{ created, skipped }`, each
   * skip with its reason. Needs CreateEvents. @throws PAYLOAD_TOO_LARGE (over 512 KiB or
   * 200 series), BAD_REQUEST (not iCalendar), FORBIDDEN, NOT_FOUND.
   */
  importIcs: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/scopes/{scopeId}/events/import', protect: true, tags: ['events'] } })
    .input(ImportIcsInput)
    .output(ImportReportOutput)
    .mutation(({ ctx, input }) => ctx.svc.icsImport.run(ctx.user.id, input.scopeId, input.ics)),
  /**
   * Makes a new secret calendar feed URL for the caller (`GET {path}`, no sign-in; the old
   * one stops working): the events of every scope the caller is a member of and may view,
   * for Google Calendar "From URL" or Apple Calendar subscriptions. Shown once.
   */
  rotateFeed: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/me/calendar-feed', protect: true, tags: ['events'] } })
    .input(z.object({}).optional())
    .output(FeedOutput)
    .mutation(({ ctx }) => ctx.svc.calendarFeeds.rotate(ctx.user.id)),
  /** Revokes the caller's calendar feed URL: `{ revoked }` (false when there was none). */
  revokeFeed: authedProcedure
    .meta({ openapi: { method: 'DELETE', path: '/me/calendar-feed', protect: true, tags: ['events'] } })
    .input(z.object({}).optional())
    .output(z.object({ revoked: z.boolean() }))
    .mutation(({ ctx }) => ctx.svc.calendarFeeds.revoke(ctx.user.id)),
  /** Whether the caller has a calendar feed, and since when (the URL is shown only when made). */
  feed: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/me/calendar-feed', protect: true, tags: ['events'] } })
    .input(z.object({}).optional())
    .output(FeedStatusOutput)
    .query(({ ctx }) => ctx.svc.calendarFeeds.status(ctx.user.id)),
});
