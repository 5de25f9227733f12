import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { users } from './auth.js';
import { scopes } from './scopes.js';

/**
 * Calendar events: one row per series (a one-time event is a series of one). The start is
 * kept as wall-clock time plus an IANA zone (`start_local` + `tzid`), never as an instant,
 * so 09:00 stays 09:00 across DST; the recurrence fields are the canonical forms of
 * src/events/recurrence `validateSeries`. A "this and following" edit ends a series and
 * starts a new one whose `parent_id` points back at it.
 *
 * `first_start` and `last_end` are derived bounds (instants) used only to skip series that
 * cannot overlap a listing window; `last_end` is null for an open-ended rule.
 */
export const calendarEvents = pgTable(
  'events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    scopeId: uuid('scope_id')
      .notNull()
      .references(() => scopes.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    /** The series this one was split from by "this and following". */
    parentId: uuid('parent_id').references((): AnyPgColumn => calendarEvents.id, { onDelete: 'set null' }),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    location: text('location').notNull().default(''),
    allDay: boolean('all_day').notNull().default(false),
    /** DTSTART: `YYYY-MM-DDTHH:mm:ss` in `tzid`, or `YYYY-MM-DD` when all-day. */
    startLocal: text('start_local').notNull(),
    tzid: text('tzid').notNull(),
    /** RFC 5545 §3.3.6 duration of every instance. */
    duration: text('duration').notNull(),
    rrule: text('rrule'),
    exdates: text('exdates').array().notNull().default(sql`'{}'::text[]`),
    rdates: text('rdates').array().notNull().default(sql`'{}'::text[]`),
    /** Seats per RSVP target (the series, or one instance); null: unlimited. */
    capacity: integer('capacity'),
    firstStart: timestamp('first_start', { withTimezone: true }).notNull(),
    lastEnd: timestamp('last_end', { withTimezone: true }),
    /** RFC 5545 §3.8.7.4 SEQUENCE: raised on every change of the series (or its EXDATEs and cancels). */
    sequence: integer('sequence').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('events_scope_idx').on(t.scopeId, t.firstStart),
    index('events_parent_idx').on(t.parentId),
    check('events_capacity_positive', sql`${t.capacity} is null or ${t.capacity} > 0`),
  ],
);

/**
 * One changed or cancelled instance, keyed by the series and the instance's original
 * start (RFC 5545 §3.8.4.4 RECURRENCE-ID): a UTC instant `YYYY-MM-DDTHH:mm:ssZ`, or a date
 * for an all-day series. Null fields inherit from the series. An override whose original
 * start is no longer an instance of its (edited) series is kept but not shown.
 */
export const eventOverrides = pgTable(
  'event_overrides',
  {
    eventId: uuid('event_id')
      .notNull()
      .references(() => calendarEvents.id, { onDelete: 'cascade' }),
    originalStart: text('original_start').notNull(),
    cancelled: boolean('cancelled').notNull().default(false),
    title: text('title'),
    description: text('description'),
    location: text('location'),
    /** The moved start and end as wall-clock time in the series' zone (dates when all-day). */
    startLocal: text('start_local'),
    endLocal: text('end_local'),
    /** The moved instance's start and end instants, for window queries. */
    startAt: timestamp('start_at', { withTimezone: true }),
    endAt: timestamp('end_at', { withTimezone: true }),
    /** SEQUENCE of the instance's own VEVENT (RECURRENCE-ID), raised on every change of it. */
    sequence: integer('sequence').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.eventId, t.originalStart] }), index('event_overrides_moved_idx').on(t.eventId, t.startAt)],
);

/**
 * RSVPs. `instance_start` is '' for an answer to the whole series, else an instance's
 * original start. `waitlisted` is a `going` that found no seat; `position` orders the
 * waitlist (first come, first served).
 */
export const eventRsvps = pgTable(
  'event_rsvps',
  {
    eventId: uuid('event_id')
      .notNull()
      .references(() => calendarEvents.id, { onDelete: 'cascade' }),
    instanceStart: text('instance_start').notNull().default(''),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['going', 'maybe', 'declined', 'waitlisted'] }).notNull(),
    respondedAt: timestamp('responded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.instanceStart, t.userId] }),
    index('event_rsvps_status_idx').on(t.eventId, t.instanceStart, t.status, t.respondedAt),
  ],
);

/**
 * Reminders: per user and event, `minutes` before each instance's actual start. `next_fire_at`
 * is the next due fire, materialised from the expansion (null: none left); the scheduler
 * claims due rows with FOR UPDATE SKIP LOCKED. `next_instance` is the original start of the
 * instance that fire is for (null: nothing found within the look-ahead; re-check then).
 */
export const eventReminders = pgTable(
  'event_reminders',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    eventId: uuid('event_id')
      .notNull()
      .references(() => calendarEvents.id, { onDelete: 'cascade' }),
    minutes: integer('minutes').notNull(),
    nextFireAt: timestamp('next_fire_at', { withTimezone: true }),
    nextInstance: text('next_instance'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.eventId, t.minutes] }),
    index('event_reminders_due_idx').on(t.nextFireAt),
    check('event_reminders_minutes_range', sql`${t.minutes} between 0 and 40320`),
  ],
);

/** One row per delivered reminder: the key makes each (user, event, instance, minutes) fire once. */
export const eventReminderFires = pgTable(
  'event_reminder_fires',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    eventId: uuid('event_id')
      .notNull()
      .references(() => calendarEvents.id, { onDelete: 'cascade' }),
    instanceStart: text('instance_start').notNull(),
    minutes: integer('minutes').notNull(),
    firedAt: timestamp('fired_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.eventId, t.instanceStart, t.minutes] })],
);

/**
 * Secret calendar feeds (subscribe by URL, as Google Calendar's "secret address in iCal
 * format"): one per user. Only a SHA-256 hash of the token is kept, so a database read
 * cannot be turned into a working URL; rotating replaces the row, revoking deletes it.
 */
export const calendarFeeds = pgTable('calendar_feeds', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
