import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { eventOverrides, eventRsvps, userEvents } from '../db/schema/index.js';
import { notFound } from '../errors.js';
import type { Tx } from '../messages/log.js';
import type { ScopeHub } from '../realtime/hub.js';
import { canonicalRecurrenceId, ruleInstance, type EventRow } from './expansion.js';
import { lockEvent, type EventReads } from './reads.js';
import type { Attendees, Rsvp, RsvpStatus } from './types.js';

type RsvpRow = typeof eventRsvps.$inferSelect;

const toRsvp = (r: RsvpRow): Rsvp => ({
  eventId: r.eventId,
  instanceStart: r.instanceStart === '' ? null : r.instanceStart,
  userId: r.userId,
  status: r.status,
  respondedAt: r.respondedAt,
});

/**
 * RSVPs per series or per instance, with capacity and a waitlist.
 *
 * Capacity is per RSVP target: the series (answers for every instance) has `capacity`
 * seats, and so does each instance (answers for that one instance). A `going` that finds
 * every seat taken becomes `waitlisted`, in order of answer. Every change runs under the
 * series row's lock (SELECT … FOR UPDATE), so concurrent answers never overbook, and
 * withdrawing a seat promotes the first waiting person in the same transaction (they get
 * an `rsvp.promoted` event on their stream). Raising the capacity fills seats the same way.
 */
export class RsvpService {
  constructor(
    private readonly db: Db,
    private readonly reads: EventReads,
    private readonly hub: ScopeHub,
  ) {}

  /**
   * Answers for the series (`instanceStart` omitted) or one instance. `status` null
   * withdraws the answer. `going` beyond capacity is stored as `waitlisted`.
   * @returns the stored answer (null after a withdrawal).
   * @throws NotFound (event, or no such instance), Forbidden (no View).
   */
  async respond(userId: string, eventId: string, instanceStart: string | undefined, status: 'going' | 'maybe' | 'declined' | null): Promise<Rsvp | null> {
    const row = await this.reads.visible(userId, eventId);
    const target = await this.target(row, instanceStart);
    const { result, promoted } = await this.db.transaction(async (tx) => {
      const locked = await lockEvent(tx, eventId);
      const key = and(eq(eventRsvps.eventId, eventId), eq(eventRsvps.instanceStart, target), eq(eventRsvps.userId, userId));
      const [prev] = await tx.select().from(eventRsvps).where(key);
      const held = prev?.status === 'going' || prev?.status === 'waitlisted';
      if (status === 'going' && held) return { result: prev!, promoted: [] as string[] };
      if (status === null) {
        await tx.delete(eventRsvps).where(key);
      } else {
        let next: RsvpStatus = status;
        if (status === 'going' && locked.capacity !== null && (await goingCount(tx, eventId, target)) >= locked.capacity) next = 'waitlisted';
        await tx
          .insert(eventRsvps)
          .values({ eventId, instanceStart: target, userId, status: next, respondedAt: new Date() })
          .onConflictDoUpdate({ target: [eventRsvps.eventId, eventRsvps.instanceStart, eventRsvps.userId], set: { status: next, respondedAt: new Date() } });
      }
      const promoted = prev?.status === 'going' ? await this.fillSeats(tx, locked, target) : [];
      const [now] = await tx.select().from(eventRsvps).where(key);
      return { result: now ?? null, promoted };
    });
    for (const u of promoted) await this.hub.pokeUser(u);
    return result ? toRsvp(result) : null;
  }

  /**
   * The answers for one target (the series, or an instance): going first, then the
   * waitlist in order, then maybe and declined. @throws NotFound, Forbidden.
   */
  async attendees(userId: string, eventId: string, instanceStart: string | undefined): Promise<Attendees> {
    const row = await this.reads.visible(userId, eventId);
    const target = await this.target(row, instanceStart);
    const rows = await this.db
      .select()
      .from(eventRsvps)
      .where(and(eq(eventRsvps.eventId, eventId), eq(eventRsvps.instanceStart, target)))
      .orderBy(
        sql`case ${eventRsvps.status} when 'going' then 0 when 'waitlisted' then 1 when 'maybe' then 2 else 3 end`,
        asc(eventRsvps.respondedAt),
        asc(eventRsvps.userId),
      );
    const counts: Record<RsvpStatus, number> = { going: 0, maybe: 0, declined: 0, waitlisted: 0 };
    for (const r of rows) counts[r.status] += 1;
    return { eventId, instanceStart: target === '' ? null : target, capacity: row.capacity, counts, items: rows.map(toRsvp) };
  }

  /**
   * Moves waitlisted answers of one target up while seats are free, first come first
   * served, inside the caller's transaction (which holds the series lock).
   * @returns the users promoted (poke their streams after commit).
   */
  async fillSeats(tx: Tx, row: EventRow, target: string): Promise<string[]> {
    let free = row.capacity === null ? Number.MAX_SAFE_INTEGER : row.capacity - (await goingCount(tx, row.id, target));
    const promoted: string[] = [];
    while (free > 0) {
      const [first] = await tx
        .select()
        .from(eventRsvps)
        .where(and(eq(eventRsvps.eventId, row.id), eq(eventRsvps.instanceStart, target), eq(eventRsvps.status, 'waitlisted')))
        .orderBy(asc(eventRsvps.respondedAt), asc(eventRsvps.userId))
        .limit(1);
      if (!first) break;
      await tx
        .update(eventRsvps)
        .set({ status: 'going' })
        .where(and(eq(eventRsvps.eventId, row.id), eq(eventRsvps.instanceStart, target), eq(eventRsvps.userId, first.userId)));
      await tx.insert(userEvents).values({
        userId: first.userId,
        seq: 0, // assigned by the trigger
        type: 'rsvp.promoted',
        payload: { scopeId: row.scopeId, eventId: row.id, instanceStart: target },
      });
      promoted.push(first.userId);
      free -= 1;
    }
    return promoted;
  }

  /** {@link fillSeats} for every target of a series with a waitlist (after a capacity change). */
  async fillAllSeats(tx: Tx, row: EventRow): Promise<string[]> {
    const rows = await tx
      .select({ t: eventRsvps.instanceStart })
      .from(eventRsvps)
      .where(and(eq(eventRsvps.eventId, row.id), eq(eventRsvps.status, 'waitlisted')));
    const targets = [...new Set(rows.map((r) => r.t))].map((t) => ({ t }));
    const out: string[] = [];
    for (const { t } of targets) out.push(...(await this.fillSeats(tx, row, t)));
    return out;
  }

  /** '' for the series, else the canonical original start of a live instance. @throws NotFound. */
  private async target(row: EventRow, instanceStart: string | undefined): Promise<string> {
    if (instanceStart === undefined) return '';
    const id = canonicalRecurrenceId(instanceStart, row.allDay);
    if (!ruleInstance(row, id)) throw notFound(`${instanceStart} is not an instance of this event`);
    const [o] = await this.db.select().from(eventOverrides).where(and(eq(eventOverrides.eventId, row.id), eq(eventOverrides.originalStart, id)));
    if (o?.cancelled) throw notFound(`the instance at ${id} is cancelled`);
    return id;
  }
}

async function goingCount(tx: Tx, eventId: string, target: string): Promise<number> {
  const [r] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(eventRsvps)
    .where(and(eq(eventRsvps.eventId, eventId), eq(eventRsvps.instanceStart, target), eq(eventRsvps.status, 'going')));
  return r?.n ?? 0;
}
