import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { expandSeries, type Series } from '../../src/events/recurrence/index.js';
import { loadRecurrenceVectors, type RecurrenceVector as Vector } from '../helpers/vectors.js';

/*
 * The shared RFC 5545 vectors (RFC §3.8.5.3 examples, derived cases, DST cases
 * and cases from public bug reports). Every vector runs: the engine's output
 * must equal `expected` exactly, or, for a vector listed in REFUSED, the engine
 * must refuse it with a BAD_REQUEST-type error naming the unsupported part.
 */

const vectors = loadRecurrenceVectors();

/** Vectors the engine refuses, with the part its error must name. Empty: every vector passes. */
const REFUSED: Record<string, RegExp> = {};

/** A vector's window as instants; inclusive windows include an instance starting exactly at `end`. */
function windowOf(v: Vector): { from: string | Date; to: string | Date } {
  if (!v.window) return { from: '1900-01-01T00:00:00Z', to: '2200-01-01T00:00:00Z' };
  const instant = (s: string) => (v.allDay ? `${s}T00:00:00Z` : s);
  const end = new Date(instant(v.window.end));
  return { from: instant(v.window.start), to: v.window.inclusive ? new Date(end.getTime() + 1) : end };
}

function seriesOf(v: Vector): Series {
  return {
    start: v.dtstart,
    tzid: v.tzid,
    allDay: v.allDay === true,
    rrule: v.rrule,
    exdates: v.exdate ?? null,
    rdates: v.rdate ?? null,
  };
}

describe('RFC 5545 recurrence vectors', () => {
  it('loads all 57 vectors', () => {
    expect(vectors).toHaveLength(57);
    expect(new Set(vectors.map((v) => v.name)).size).toBe(57);
  });

  for (const v of vectors) {
    const refusal = REFUSED[v.name];
    if (refusal) {
      it(`${v.name} is refused`, () => {
        const run = () => expandSeries(seriesOf(v), { ...windowOf(v), limit: 1000 });
        expect(run).toThrow(AppError);
        expect(run).toThrow(refusal);
      });
    } else {
      it(`${v.name} (${v.category})`, () => {
        const { instances, truncated } = expandSeries(seriesOf(v), { ...windowOf(v), limit: 1000 });
        expect(truncated).toBe(false);
        const got = instances.map((i) => (v.allDay ? i.startLocal : i.start));
        expect(got).toEqual(v.expected);
      });
    }
  }
});
