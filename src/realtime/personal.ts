import type { ScopeEvent } from '../messages/events.js';
import { sharedResults } from '../polls/visibility.js';

/**
 * True when what a subscriber may see of `event` depends on who it is: the live results
 * of an `afterVote` poll or survey (shaped per receiver by polls/surveys `shapeFor`). Such
 * an event travels as a personal WireEvent (each feed reads its own copy from the log),
 * as its publisher flags it (src/polls/live.ts); the sweep's repair flags what it reads
 * from the log the same way.
 */
export function isPersonal(event: ScopeEvent): boolean {
  return (event.type === 'poll.updated' || event.type === 'survey.updated') && !sharedResults(event.resultsVisibility);
}
