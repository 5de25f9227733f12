import type { ScopeEvent } from '../messages/events.js';
import type { ResultsVisibility } from './events.js';
import { isClosed, resultsVisible } from './visibility.js';

/** The columns of a poll or survey row the visibility rule reads. */
export interface VisibilityRow {
  id: string;
  resultsVisibility: ResultsVisibility;
  closedAt: Date | null;
  closesAt: Date | null;
}

/**
 * Shapes live-results events for one receiver, for polls and surveys alike: an event that
 * `target` names (an `afterVote` update still carrying its results) keeps them only when
 * the receiver may see them now (`took`: voted or responded; or it has closed since),
 * else `hide` strips them. One read of the targets' rows per call, none when no event
 * needs it.
 * @param target the poll or survey id of an event that may have to lose its results, else null.
 */
export async function shapeResultsFor<R extends VisibilityRow>(
  events: ScopeEvent[],
  o: {
    target: (e: ScopeEvent) => string | null;
    rows: (ids: string[]) => Promise<R[]>;
    took: (row: R) => Promise<boolean>;
    hide: (e: ScopeEvent) => ScopeEvent;
  },
): Promise<ScopeEvent[]> {
  const ids = [...new Set(events.flatMap((e) => o.target(e) ?? []))];
  if (ids.length === 0) return events;
  const visible = new Set<string>();
  for (const row of await o.rows(ids)) if (resultsVisible(row.resultsVisibility, isClosed(row), await o.took(row))) visible.add(row.id);
  return events.map((e) => {
    const id = o.target(e);
    return id !== null && !visible.has(id) ? o.hide(e) : e;
  });
}
