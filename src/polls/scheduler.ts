import type { Logger } from 'pino';
import type { LiveResults } from './live.js';

/** Something with a close time: polls and surveys. */
export interface Closer {
  /** Ids whose close time has passed and that are still open. */
  due(): Promise<string[]>;
  /** Closes one, once (false: already closed, or locked by another instance this tick). */
  closeOne(id: string, actorId: null, skipLocked: true): Promise<boolean>;
}

/**
 * Closes polls and surveys at their `closesAt`, whichever instance is alive: every
 * instance polls every POLL_CLOSE_POLL_MS. Each close runs in its own transaction that
 * takes the scope row, then the poll with `FOR UPDATE SKIP LOCKED` and a conditional
 * update on `closed_at IS NULL`, so two instances never close one twice and a poll locked
 * by another closer is left to it (as the reminder scheduler, src/events/reminders.ts,
 * claims rows). State lives only in the database: a poll that came due while no instance
 * ran closes on the first tick after a start. The votes after `closesAt` are refused by
 * the trigger meanwhile, so the gap between the close time and the tick changes nothing.
 * The same tick sends live results a dead instance left unsent (LiveResults.sweep).
 */
export class PollScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly closers: Closer[],
    private readonly live: LiveResults,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** One round: closes what is due, then sweeps live results. Exposed for tests. @returns how many it closed. */
  async tick(): Promise<number> {
    let closed = 0;
    for (const closer of this.closers) {
      for (const id of await closer.due()) if (await closer.closeOne(id, null, true)) closed++;
    }
    await this.live.sweep();
    return closed;
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'poll close round failed; retrying on the next one'))
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.pollMs);
    this.timer.unref();
  }
}
