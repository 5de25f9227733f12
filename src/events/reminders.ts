import { and, asc, eq, inArray, lte } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { calendarEvents, eventReminderFires, eventReminders, userEvents } from '../db/schema/index.js';
import { limits } from '../config.js';
import { invalid } from '../errors.js';
import type { Tx } from '../messages/log.js';
import { Permission } from '../permissions/flags.js';
import type { AccessService } from '../permissions/service.js';
import type { ScopeHub } from '../realtime/hub.js';
import { formatUtc } from './recurrence/time.js';
import { seriesInstances, type EventRow, type OverrideRow } from './expansion.js';
import { overridesOf, type EventReads } from './reads.js';
import type { EventInstance, Reminder } from './types.js';

type ReminderRow = typeof eventReminders.$inferSelect;

/** Instances that have not started at `nowMs`, within the look-ahead, earliest first. */
function upcoming(row: EventRow, ovs: OverrideRow[], nowMs: number): EventInstance[] {
  return seriesInstances(row, ovs, nowMs, nowMs + limits.eventReminderLookaheadMs, 200).items.filter((i) => Date.parse(i.start) > nowMs);
}

/**
 * Reminders: per user and event, up to `eventRemindersMax` of them, each `minutes`
 * (0 to 40,320) before every instance's actual start (moved instances included, cancelled
 * ones skipped), delivered as `reminder.due` on the user's stream (`me.onEvent`).
 *
 * Scheduling: each reminder row holds its next due fire (`next_fire_at`), materialised
 * from the expansion and recomputed whenever the series, an instance or the reminders
 * change. Every instance polls every `EVENT_REMINDER_POLL_MS`: one transaction claims due
 * rows with `SELECT … FOR UPDATE SKIP LOCKED` (so instances never claim the same row),
 * records the fire in `event_reminder_fires` (primary key user, event, instance start,
 * minutes: a fire happens once, even if a claim is repeated after a crash), writes the
 * user event, advances `next_fire_at`, commits, then pokes the user. State lives only in
 * the database, so a restart loses nothing: a fire that came due while no instance ran
 * is delivered by the first poll after the start.
 *
 * Choices: the fire key is the instance's actual start, so moving an instance that
 * already reminded reminds again for the new time. A reminder set when its fire time has
 * passed but the instance has not started fires at once. A fire is delivered only while
 * the user may view the scope.
 */
export class ReminderService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly access: AccessService,
    private readonly reads: EventReads,
    private readonly hub: ScopeHub,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  /**
   * Replaces the caller's reminders on an event with `minutes` (distinct, each 0 to
   * 40,320, at most 5; empty removes them all).
   * @throws NotFound, Forbidden (no View), Invalid.
   */
  async set(userId: string, eventId: string, minutes: number[]): Promise<Reminder[]> {
    const row = await this.reads.visible(userId, eventId);
    if (minutes.length > 0 && repeatsSubHourly(row)) {
      throw invalid('reminders are for events that repeat at most hourly; this one repeats every minute or second');
    }
    const distinct = [...new Set(minutes)];
    if (distinct.length > limits.eventRemindersMax) throw invalid(`at most ${limits.eventRemindersMax} reminders per event`);
    await this.db.transaction(async (tx) => {
      await tx.delete(eventReminders).where(and(eq(eventReminders.userId, userId), eq(eventReminders.eventId, eventId)));
      if (distinct.length > 0) await tx.insert(eventReminders).values(distinct.map((m) => ({ userId, eventId, minutes: m })));
      await this.reschedule(tx, row, userId);
    });
    return this.list(userId, eventId);
  }

  /** The caller's reminders on an event, with their next fire. @throws NotFound, Forbidden. */
  async list(userId: string, eventId: string): Promise<Reminder[]> {
    await this.reads.visible(userId, eventId);
    const rows = await this.db
      .select()
      .from(eventReminders)
      .where(and(eq(eventReminders.userId, userId), eq(eventReminders.eventId, eventId)))
      .orderBy(asc(eventReminders.minutes));
    return rows.map((r) => ({ eventId: r.eventId, minutes: r.minutes, nextFireAt: r.nextFireAt }));
  }

  /**
   * Recomputes `next_fire_at` of the reminders on a series (of one user, or everyone)
   * inside the caller's transaction: after any change to the series or its instances.
   */
  async reschedule(tx: Tx, row: EventRow, userId?: string): Promise<void> {
    const rems = await tx
      .select()
      .from(eventReminders)
      .where(and(eq(eventReminders.eventId, row.id), userId ? eq(eventReminders.userId, userId) : undefined));
    if (rems.length === 0) return;
    const ovs = (await overridesOf(tx, [row.id])).get(row.id) ?? [];
    await this.advance(tx, row, ovs, rems, Date.now());
  }

  /** Sets each reminder's next fire: the earliest upcoming instance not yet fired for it. */
  private async advance(tx: Tx, row: EventRow, ovs: OverrideRow[], rems: ReminderRow[], nowMs: number): Promise<void> {
    // A series edited into one that repeats every minute or second keeps its reminders but
    // fires none: a reminder a minute would be a flood.
    const silent = repeatsSubHourly(row);
    const cands = silent ? [] : upcoming(row, ovs, nowMs);
    const keys = cands.map((c) => formatUtc(Date.parse(c.start)));
    const fired = new Set<string>();
    if (keys.length > 0) {
      const rows = await tx
        .select()
        .from(eventReminderFires)
        .where(and(eq(eventReminderFires.eventId, row.id), inArray(eventReminderFires.instanceStart, keys)));
      for (const f of rows) fired.add(`${f.userId}|${f.minutes}|${f.instanceStart}`);
    }
    const mayContinue = !silent && (row.lastEnd === null || row.lastEnd.getTime() > nowMs + limits.eventReminderLookaheadMs);
    for (const r of rems) {
      const next = cands.find((c, i) => !fired.has(`${r.userId}|${r.minutes}|${keys[i]}`));
      const set = next
        ? { nextFireAt: new Date(Date.parse(next.start) - r.minutes * 60_000), nextInstance: next.originalStart }
        : { nextFireAt: mayContinue ? new Date(nowMs + limits.eventReminderLookaheadMs / 2) : null, nextInstance: null };
      await tx
        .update(eventReminders)
        .set(set)
        .where(and(eq(eventReminders.userId, r.userId), eq(eventReminders.eventId, r.eventId), eq(eventReminders.minutes, r.minutes)));
    }
  }

  // ------------------------------------------------------------ scheduler

  /** Starts polling every `pollMs` (EVENT_REMINDER_POLL_MS). */
  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Reminders this instance has delivered since it started (for `/metrics`). */
  fired = 0;

  /** Stops polling and waits for a running poll to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'reminder poll failed; retrying on the next one'))
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.pollMs);
    this.timer.unref();
  }

  /**
   * One poll: claims due reminders (FOR UPDATE SKIP LOCKED), delivers each fire once,
   * advances them, commits, pokes the users. Exposed for tests.
   * @returns how many reminders were delivered.
   */
  async tick(): Promise<number> {
    const nowMs = Date.now();
    // Access is checked before the transaction, never inside it: the permission helper
    // reads through its own connection, and on PGlite (one connection) a read waiting on
    // an open transaction that waits on it would hang the database.
    const preview = await this.db
      .select({ userId: eventReminders.userId, scopeId: calendarEvents.scopeId })
      .from(eventReminders)
      .innerJoin(calendarEvents, eq(calendarEvents.id, eventReminders.eventId))
      .where(lte(eventReminders.nextFireAt, new Date(nowMs)))
      .orderBy(asc(eventReminders.nextFireAt))
      .limit(limits.eventReminderBatch);
    if (preview.length === 0) return 0;
    const allowed = new Map<string, boolean>();
    for (const p of preview) {
      const key = `${p.userId}:${p.scopeId}`;
      if (!allowed.has(key)) allowed.set(key, await this.access.allows(p.userId, p.scopeId, Permission.View));
    }
    const delivered = await this.db.transaction(async (tx) => {
      const due = await tx
        .select()
        .from(eventReminders)
        .where(lte(eventReminders.nextFireAt, new Date(nowMs)))
        .orderBy(asc(eventReminders.nextFireAt))
        .limit(limits.eventReminderBatch)
        .for('update', { skipLocked: true });
      if (due.length === 0) return [] as string[];
      const ids = [...new Set(due.map((r) => r.eventId))];
      const rows = new Map((await tx.select().from(calendarEvents).where(inArray(calendarEvents.id, ids))).map((r) => [r.id, r]));
      const overrides = await overridesOf(tx, ids);
      const users: string[] = [];
      for (const r of due) {
        const row = rows.get(r.eventId);
        if (!row) continue; // deleted: the cascade removes the reminder
        const mayView = allowed.get(`${r.userId}:${row.scopeId}`);
        if (mayView === undefined) continue; // became due after the preview: the next poll has it
        if (r.nextInstance !== null && r.nextFireAt) {
          const startMs = r.nextFireAt.getTime() + r.minutes * 60_000;
          const [fire] = await tx
            .insert(eventReminderFires)
            .values({ userId: r.userId, eventId: r.eventId, instanceStart: formatUtc(startMs), minutes: r.minutes })
            .onConflictDoNothing()
            .returning();
          if (fire && mayView) {
            await tx.insert(userEvents).values({
              userId: r.userId,
              seq: 0, // assigned by the trigger
              type: 'reminder.due',
              payload: {
                scopeId: row.scopeId,
                eventId: row.id,
                title: row.title,
                instanceStart: r.nextInstance,
                start: formatUtc(startMs),
                minutes: r.minutes,
              },
            });
            users.push(r.userId);
          }
        }
        await this.advance(tx, row, overrides.get(row.id) ?? [], [r], nowMs);
      }
      return users;
    });
    for (const u of new Set(delivered)) await this.hub.pokeUser(u);
    this.fired += delivered.length;
    return delivered.length;
  }
}

/** True for a series repeating every minute or second (FREQ=MINUTELY or SECONDLY, RFC 5545 §3.3.10). */
function repeatsSubHourly(row: EventRow): boolean {
  return /(^|;)FREQ=(MINUTELY|SECONDLY)(;|$)/.test(row.rrule ?? '');
}
