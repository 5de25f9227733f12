import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './process.js';

/** One recurrence test vector of test/fixtures/recurrence/rfc5545-vectors.json. */
export interface RecurrenceVector {
  name: string;
  category: string;
  source: string;
  dtstart: string;
  tzid: string | null;
  rrule: string;
  allDay?: boolean;
  exdate?: string[];
  rdate?: string[];
  window?: { start: string; end: string; inclusive: boolean };
  /** The right answer under our policy (docs/architecture.md, src/events/recurrence/index.ts). */
  expected: string[];
  /** The other reading of a DST gap, for information. */
  alt_expected?: string[];
}

/** The RFC 5545 vectors vendored into test/fixtures/recurrence. */
export function loadRecurrenceVectors(): RecurrenceVector[] {
  const file = path.resolve(REPO_ROOT, 'test', 'fixtures', 'recurrence', 'rfc5545-vectors.json');
  return JSON.parse(readFileSync(file, 'utf8')) as RecurrenceVector[];
}
