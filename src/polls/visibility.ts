import type { ResultsVisibility } from './events.js';

/**
 * Whether a receiver may see the results (counts, aggregates, voter lists) of a poll or
 * survey. One rule for every read, event and export:
 * - `always`: everyone who may view the scope (Discord).
 * - `afterVote`: those who voted (responded), as Telegram shows results after voting.
 * - `afterClose`: nobody until it closes, its author included (the server keeps the secret).
 * Once closed, everyone sees the final results.
 */
export function resultsVisible(visibility: ResultsVisibility, closed: boolean, hasVoted: boolean): boolean {
  if (closed || visibility === 'always') return true;
  return visibility === 'afterVote' && hasVoted;
}

/** True when the same live-results event may go to every receiver (no per-receiver shaping). */
export function sharedResults(visibility: ResultsVisibility): boolean {
  return visibility !== 'afterVote';
}

/** Closed: closed by hand, or `closesAt` has passed (the triggers refuse votes from then on). */
export function isClosed(p: { closedAt: Date | null; closesAt: Date | null }, nowMs = Date.now()): boolean {
  return p.closedAt !== null || (p.closesAt !== null && p.closesAt.getTime() <= nowMs);
}

/** Same members, any order. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
