import { Temporal } from 'temporal-polyfill';
import { formatUtc, parseDate, parseInstant, parseLocalDateTime, wallAt, zonedFromWallClock } from './recurrence/time.js';

/*
 * Exceptions that follow their series. Overrides, cancels, EXDATEs, RDATEs and
 * per-instance RSVPs are keyed by an instance's original start (RECURRENCE-ID, a UTC
 * instant or, all-day, a date). When an edit moves the series (a new DTSTART, zone or
 * all-day flag), every key moves by the same wall-clock shift as DTSTART, so that a
 * cancelled 09:00 instance is still cancelled when the series runs at 10:00, and an
 * edited title stays on its day. This is what Google Calendar does on a series edit.
 */

/** Where a series is anchored: DTSTART as wall-clock time (or a date), its zone, and the all-day flag. */
export interface Anchor {
  start: string;
  tzid: string;
  allDay: boolean;
}

/** Maps a RECURRENCE-ID of the old anchor to the one of the new anchor. */
export type KeyShift = (key: string) => string;

const wallOf = (a: Anchor): Temporal.PlainDateTime =>
  a.allDay ? parseDate(a.start, 'start').toPlainDateTime() : parseLocalDateTime(a.start, 'start');

/** True when the two anchors put instances at different keys. */
export function anchorsDiffer(from: Anchor, to: Anchor): boolean {
  return from.allDay !== to.allDay || from.tzid !== to.tzid || !wallOf(from).equals(wallOf(to));
}

/**
 * The key shift from one anchor to another: a key is read as wall-clock time in the
 * old zone (a date as its midnight), moved by the wall-clock distance between the two
 * DTSTARTs (calendar days, then clock time, as Temporal adds), and read back in the new
 * zone (the engine's gap and fold rule, RFC 5545 §3.3.5), or as a date when all-day.
 * The identity when the anchors agree.
 */
export function keyShift(from: Anchor, to: Anchor): KeyShift {
  if (!anchorsDiffer(from, to)) return (k) => k;
  const delta = wallOf(from).until(wallOf(to), { largestUnit: 'day' });
  return (key) => {
    const wall = from.allDay ? parseDate(key, 'originalStart').toPlainDateTime() : wallAt(parseInstant(key, 'originalStart'), from.tzid);
    const moved = wall.add(delta);
    if (to.allDay) return moved.toPlainDate().toString();
    return formatUtc(zonedFromWallClock(moved, to.tzid).epochMilliseconds);
  };
}

/** Applies a shift to a key list, keeping it sorted and free of duplicates (the stored form). */
export function shiftKeys(keys: readonly string[], shift: KeyShift): string[] {
  return [...new Set(keys.map(shift))].sort();
}
