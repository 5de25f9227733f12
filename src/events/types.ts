/** An event series as clients see it. A one-time event is a series without RRULE. */
export interface CalendarEvent {
  id: string;
  scopeId: string;
  createdBy: string | null;
  /** The series this one was split from ("this and following"), or null. */
  parentId: string | null;
  title: string;
  description: string;
  location: string;
  allDay: boolean;
  /** DTSTART as wall-clock time in `timeZone` (`YYYY-MM-DDTHH:mm:ss`), or a date when all-day. */
  start: string;
  /** DTSTART + duration, same form; for all-day the exclusive end date. */
  end: string;
  /** IANA time zone the wall-clock times are in. */
  timeZone: string;
  /** RFC 5545 §3.3.6 duration of every instance. */
  duration: string;
  /** Canonical RRULE (RFC 5545 §3.3.10), or null. */
  rrule: string | null;
  /** EXDATEs: UTC instants `YYYY-MM-DDTHH:mm:ssZ`, or dates when all-day. */
  exdates: string[];
  /** RDATEs, same form. */
  rdates: string[];
  /** Seats per RSVP target; null: unlimited. */
  capacity: number | null;
  /** RFC 5545 §3.8.7.4 SEQUENCE: 0 when created, raised by every change of the series or an instance of it. */
  sequence: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * An override (a changed or cancelled instance) left without an instance by an edit of
 * its series, e.g. a new rule without that day. It is kept, not listed nor exported, and
 * comes back if a later edit brings the instance back.
 */
export interface OrphanedOverride {
  /** Its RECURRENCE-ID after the edit (the original start, moved with the series). */
  originalStart: string;
  cancelled: boolean;
  /** Its own title, or null when it kept the series'. */
  title: string | null;
  /** Its own start (RFC 3339), or null when it was not moved. */
  start: string | null;
}

/** `events.create`: the series, and what the server did that the caller may not expect. */
export interface SeriesSaved extends CalendarEvent {
  /** Sentences such as "2026-03-08T02:30:00 does not exist in America/New_York …; the event starts at 2026-03-08T03:30:00". */
  notices: string[];
}

/** `events.update` and `events.updateFollowing`: the series, notices, and the overrides the edit orphaned. */
export interface SeriesEdit extends SeriesSaved {
  orphaned: OrphanedOverride[];
}

/** One occurrence of a series, with its override (if any) applied. */
export interface EventInstance {
  eventId: string;
  scopeId: string;
  /** RECURRENCE-ID: the original start, a UTC instant `YYYY-MM-DDTHH:mm:ssZ` (a date when all-day). */
  originalStart: string;
  /** Actual start and end instants, RFC 3339 with the event zone's offset. */
  start: string;
  end: string;
  /** Actual start and end as wall-clock time in `timeZone` (dates when all-day; the end exclusive). */
  startLocal: string;
  endLocal: string;
  timeZone: string;
  allDay: boolean;
  title: string;
  description: string;
  location: string;
  /** True when this instance was moved or edited on its own. */
  overridden: boolean;
}

/** A page of `events.instances`: sorted by start; pass `nextCursor` back for the next page. */
export interface InstancePage {
  items: EventInstance[];
  nextCursor: string | null;
  /** Series that could not be expanded and are left out of this page; the others are listed. */
  failed: FailedSeries[];
}

/** A series a listing left out, with the engine's reason. */
export interface FailedSeries {
  eventId: string;
  title: string;
  message: string;
}

/** An RSVP answer. `waitlisted` is a `going` that found no free seat. */
export type RsvpStatus = 'going' | 'maybe' | 'declined' | 'waitlisted';

export interface Rsvp {
  eventId: string;
  /** The instance's original start, or null for an answer to the whole series. */
  instanceStart: string | null;
  userId: string;
  status: RsvpStatus;
  respondedAt: Date;
}

/** `events.attendees`: the RSVPs of one target, going first, the waitlist in order. */
export interface Attendees {
  eventId: string;
  instanceStart: string | null;
  capacity: number | null;
  counts: Record<RsvpStatus, number>;
  items: Rsvp[];
}

/** One of the caller's reminders on an event. */
export interface Reminder {
  eventId: string;
  minutes: number;
  /** When it fires next (null: no instance left). */
  nextFireAt: Date | null;
}

/** `events.ics`: an iCalendar (RFC 5545) document. */
export interface IcsExport {
  filename: string;
  contentType: 'text/calendar; charset=utf-8';
  content: string;
}
