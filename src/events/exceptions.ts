import { and, eq, inArray, ne } from 'drizzle-orm';
import { eventOverrides, eventRsvps } from '../db/schema/index.js';
import type { Tx } from '../messages/log.js';
import { formatLocal, formatWithOffset, parseDate, wallAt, zonedAt, zonedStartOfDay } from './recurrence/time.js';
import { ruleInstance, type EventRow, type OverrideRow } from './expansion.js';
import type { KeyShift } from './remap.js';
import type { OrphanedOverride } from './types.js';

/*
 * Carrying a series' exceptions (overrides, cancels, per-instance RSVPs) through an edit
 * or a split, inside the edit's transaction (the series row is locked).
 */

/**
 * Moves the exceptions of series `fromId` whose RECURRENCE-ID passes `take` to series
 * `to` (the same series after an edit, or the tail of a split), re-keyed by `shift`.
 *
 * - An override that has its own time keeps it, as Google Calendar does: its instants
 *   stay and its wall-clock times are re-read in the new zone (all-day: its dates stay).
 *   Turning a series all-day (or back) drops the own times, which cannot be carried over.
 * - Two exceptions that land on the same key (a shift across a DST fold) keep the one
 *   changed last.
 * - Cancels stay cancels; EXDATEs are shifted by the caller with the same shift.
 *
 * @param wasAllDay the all-day flag of the series the keys came from.
 * @returns the overrides of `to` that now have no instance (reported to the editor).
 */
export async function carryExceptions(
  tx: Tx,
  fromId: string,
  to: EventRow,
  wasAllDay: boolean,
  shift: KeyShift,
  take: (key: string) => boolean = () => true,
): Promise<OrphanedOverride[]> {
  const rows = (await tx.select().from(eventOverrides).where(eq(eventOverrides.eventId, fromId))).filter((o) => take(o.originalStart));
  const same = fromId === to.id;
  const identity = same && rows.every((o) => shift(o.originalStart) === o.originalStart);
  let kept: OverrideRow[] = rows;
  if (!identity || !same) {
    const byKey = new Map<string, OverrideRow>();
    for (const o of rows) {
      const moved = { ...o, eventId: to.id, originalStart: shift(o.originalStart), ...ownTimes(o, to, wasAllDay) };
      const prev = byKey.get(moved.originalStart);
      if (!prev || prev.updatedAt.getTime() <= moved.updatedAt.getTime()) byKey.set(moved.originalStart, moved);
    }
    kept = [...byKey.values()];
    if (rows.length > 0) {
      await tx.delete(eventOverrides).where(and(eq(eventOverrides.eventId, fromId), inArray(eventOverrides.originalStart, rows.map((o) => o.originalStart))));
    }
    if (kept.length > 0) await tx.insert(eventOverrides).values(kept);
    await carryRsvps(tx, fromId, to.id, shift, take);
  }
  return kept
    .filter((o) => ruleInstance(to, o.originalStart) === null)
    .map((o) => ({
      originalStart: o.originalStart,
      cancelled: o.cancelled,
      title: o.title,
      start: o.startAt ? formatWithOffset(zonedAt(o.startAt.getTime(), to.tzid)) : null,
    }))
    .sort((a, b) => a.originalStart.localeCompare(b.originalStart));
}

/** An override's own start and end after its series moved to `to`'s zone and form. */
function ownTimes(o: OverrideRow, to: EventRow, wasAllDay: boolean): Pick<OverrideRow, 'startLocal' | 'endLocal' | 'startAt' | 'endAt'> {
  if (!o.startAt || !o.endAt || !o.startLocal || !o.endLocal) return { startLocal: null, endLocal: null, startAt: null, endAt: null };
  if (wasAllDay !== to.allDay) return { startLocal: null, endLocal: null, startAt: null, endAt: null };
  if (to.allDay) {
    return {
      startLocal: o.startLocal,
      endLocal: o.endLocal,
      startAt: new Date(zonedStartOfDay(parseDate(o.startLocal, 'start'), to.tzid).epochMilliseconds),
      endAt: new Date(zonedStartOfDay(parseDate(o.endLocal, 'end'), to.tzid).epochMilliseconds),
    };
  }
  return {
    startLocal: formatLocal(wallAt(o.startAt.getTime(), to.tzid)),
    endLocal: formatLocal(wallAt(o.endAt.getTime(), to.tzid)),
    startAt: o.startAt,
    endAt: o.endAt,
  };
}

/** Per-instance RSVPs follow their instance (series RSVPs, key '', stay where they are). */
async function carryRsvps(tx: Tx, fromId: string, toId: string, shift: KeyShift, take: (key: string) => boolean) {
  const rows = (await tx.select().from(eventRsvps).where(and(eq(eventRsvps.eventId, fromId), ne(eventRsvps.instanceStart, '')))).filter((r) =>
    take(r.instanceStart),
  );
  if (rows.length === 0) return;
  await tx.delete(eventRsvps).where(and(eq(eventRsvps.eventId, fromId), inArray(eventRsvps.instanceStart, [...new Set(rows.map((r) => r.instanceStart))])));
  await tx
    .insert(eventRsvps)
    .values(rows.map((r) => ({ ...r, eventId: toId, instanceStart: shift(r.instanceStart) })))
    .onConflictDoNothing();
}
