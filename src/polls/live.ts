import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { Tx } from '../messages/log.js';
import { toScopeEvent, type ScopeEvent } from '../messages/events.js';
import type { ScopeHub } from '../realtime/hub.js';
import { appendResultEvent } from './vote-sql.js';

/** What a poll or survey reads for its live-results event, in one statement (one snapshot). */
export interface LiveSnapshot {
  scopeId: string;
  /** The trigger-kept tally version the payload reflects. */
  version: number;
  closed: boolean;
  type: 'poll.updated' | 'survey.updated';
  /** The event's fields as stored in the log (hidden results already nulled for `afterClose`). */
  payload: Record<string, unknown>;
  /** True for `afterVote`: each receiver gets the event shaped for it (WireEvent.personal). */
  personal: boolean;
}

/** A kind of target with live results: reads its snapshot, lists the open targets whose last event is behind. */
export interface LiveSource {
  snapshot(db: Tx, id: string): Promise<LiveSnapshot | null>;
  /** Open targets whose tally moved on since their last event, older than `ms` (an instance died mid-burst). */
  behind(db: Db, ms: number): Promise<string[]>;
}

interface Pending {
  timer: NodeJS.Timeout | null;
  /** A change came in while a flush ran: flush again after it. */
  again: boolean;
  run: Promise<void> | null;
}

/**
 * The live-results coalescer of polls and surveys. A vote (response) calls `touch`; the
 * coalescer appends one `poll.updated` (`survey.updated`) event to the scope's log with the
 * exact tally and publishes it, at most once per `intervalMs` (250 ms) per poll across all
 * instances, and always once more after the last change, so the last event of a burst
 * carries the final tally.
 *
 * The shared state is a row of `result_event_marks` (tally version sent, when): the flush
 * appends the event and moves the mark in one transaction, under a conditional upsert, so
 * two instances never send twice in one window (lock order: scope, then poll, then mark,
 * as every writer). The tally is read in one statement that never locks the poll row
 * every vote holds. `db` should be the database's background pool (Database.background). If the instance that took a vote dies
 * before flushing, `sweep` (run by every instance's close scheduler) finds the poll behind
 * and flushes it.
 */
export class LiveResults {
  private readonly pending = new Map<string, Pending>();
  private readonly sources = new Map<'poll' | 'survey', LiveSource>();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly hub: ScopeHub,
    private readonly log: Logger,
    readonly intervalMs: number,
  ) {}

  /** Adds the source of one kind (polls, surveys). */
  register(kind: 'poll' | 'survey', source: LiveSource): void {
    this.sources.set(kind, source);
  }

  /** Something changed in the tally of `id`: an event follows within `intervalMs`. */
  touch(kind: 'poll' | 'survey', id: string): void {
    if (this.stopped) return;
    const p = this.pending.get(id);
    if (p) {
      p.again = true;
      return;
    }
    const entry: Pending = { timer: null, again: false, run: null };
    this.pending.set(id, entry);
    this.schedule(kind, id, entry, 0);
  }

  /** Resolves when no flush is pending or running on this instance (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.all([...this.pending.values()].map((p) => p.run ?? new Promise((r) => setTimeout(r, 10))));
    }
  }

  /** Stops scheduling; pending flushes are dropped (the sweep of a live instance sends them). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    await Promise.all([...this.pending.values()].map((p) => p.run?.catch(() => {})));
    this.pending.clear();
  }

  /** Flushes every open poll and survey whose tally is ahead of its last event by more than `ms`. */
  async sweep(ms = this.intervalMs * 4): Promise<void> {
    for (const [kind, source] of this.sources) {
      for (const id of await source.behind(this.db, ms)) this.touch(kind, id);
    }
  }

  private schedule(kind: 'poll' | 'survey', id: string, entry: Pending, delayMs: number) {
    entry.timer = setTimeout(() => {
      entry.timer = null;
      entry.again = false;
      entry.run = this.flush(kind, id)
        .catch((err: unknown) => {
          this.log.warn({ err, kind, id }, 'live results not sent; retrying');
          return this.intervalMs;
        })
        .then((retryMs) => {
          entry.run = null;
          if (this.stopped) return;
          if (retryMs !== null) this.schedule(kind, id, entry, retryMs);
          else if (entry.again) this.schedule(kind, id, entry, this.intervalMs);
          else this.pending.delete(id);
        });
    }, delayMs);
    entry.timer.unref?.();
  }

  /**
   * One attempt: sends the event when the tally moved on and the window allows. Two round
   * trips, on the coalescer's own connections (so a burst of votes queueing for the main
   * pool does not hold the event back): the snapshot, then `result_event_append`
   * (vote-sql.ts), which takes the scope lock, re-checks after it that the target is
   * still open (a close appends the final tally under the same lock), moves the mark and
   * appends the event. A snapshot read before the lock is never older than the mark it
   * moves past: the mark only moves to a higher tally version, and a vote after the
   * snapshot touches again, so the next flush sends it.
   * @returns null when done, else the ms after which to try again.
   */
  private async flush(kind: 'poll' | 'survey', id: string): Promise<number | null> {
    const source = this.sources.get(kind)!;
    const snap = await source.snapshot(this.db, id);
    if (!snap || snap.closed) return null; // deleted, or closed (poll.closed carried the final tally)
    const out = await appendResultEvent(this.db, {
      kind,
      targetId: id,
      scopeId: snap.scopeId,
      version: snap.version,
      intervalMs: this.intervalMs,
      type: snap.type,
      payload: snap.payload,
    });
    if (out.status === 'later') return out.retryMs;
    if (out.status !== 'sent') return null;
    const row = { scopeId: snap.scopeId, seq: out.seq, type: snap.type, actorId: null, messageId: null, payload: snap.payload, createdAt: out.createdAt };
    await this.hub.publish(toScopeEvent(row, null), snap.personal);
    return null;
  }
}

/** Publishes committed events in order, each with its personal flag. */
export async function publishEvents(hub: ScopeHub, events: readonly ScopeEvent[], personal = false): Promise<void> {
  for (const e of events) await hub.publish(e, personal);
}
