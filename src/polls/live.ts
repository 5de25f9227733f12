import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { appendEvent, type Tx } from '../messages/log.js';
import { toScopeEvent, type ScopeEvent } from '../messages/events.js';
import type { ScopeHub } from '../realtime/hub.js';

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
 * two instances never send twice in one window. The tally is read in one statement while
 * the scope row is locked (lock order: scope, then poll, then mark, as every writer), and
 * never locks the poll row that every vote holds. If the instance that took a vote dies
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
   * One attempt: sends the event when the tally moved on and the window allows.
   * @returns null when done, else the ms after which to try again.
   */
  private async flush(kind: 'poll' | 'survey', id: string): Promise<number | null> {
    const source = this.sources.get(kind)!;
    const snap = await source.snapshot(this.db, id);
    if (!snap || snap.closed) return null; // deleted, or closed (poll.closed carried the final tally)
    const [mark] = (
      (await this.db.execute(
        sql`select event_version, (extract(epoch from clock_timestamp() - event_at) * 1000)::float8 as age_ms from result_event_marks where target_id = ${id}`,
      )) as unknown as { rows: { event_version: string; age_ms: number }[] }
    ).rows;
    if (mark && Number(mark.event_version) >= snap.version) return null;
    if (mark && mark.age_ms < this.intervalMs) return Math.ceil(this.intervalMs - mark.age_ms);
    const sent = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from scopes where id = ${snap.scopeId} for no key update`);
      const now = await source.snapshot(tx, id);
      if (!now || now.closed) return 'done' as const;
      const moved = (
        (await tx.execute(sql`
          insert into result_event_marks (target_id, event_version, event_at) values (${id}, ${now.version}, clock_timestamp())
          on conflict (target_id) do update set event_version = excluded.event_version, event_at = excluded.event_at
          where result_event_marks.event_version < excluded.event_version
            and result_event_marks.event_at <= clock_timestamp() - make_interval(secs => ${this.intervalMs / 1000})
          returning target_id`)) as unknown as { rows: unknown[] }
      ).rows;
      if (moved.length === 0) return 'later' as const;
      const row = await appendEvent(tx, { scopeId: now.scopeId, type: now.type, actorId: null, payload: now.payload });
      return { event: toScopeEvent(row, null), personal: now.personal };
    });
    if (sent === 'done') return null;
    if (sent === 'later') return this.intervalMs;
    await this.hub.publish(sent.event, sent.personal);
    return null;
  }
}

/** Publishes committed events in order, each with its personal flag. */
export async function publishEvents(hub: ScopeHub, events: readonly ScopeEvent[], personal = false): Promise<void> {
  for (const e of events) await hub.publish(e, personal);
}
