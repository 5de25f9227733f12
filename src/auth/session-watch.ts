import type { Logger } from 'pino';
import type { Bus } from '../infra/bus.js';
import { unauthorized, type AppError } from '../errors.js';

/** Called once when a watched session ends, with the error to end its subscriptions with. */
export type SessionEnd = (error: AppError) => void;

/** setTimeout takes at most 2^31 - 1 ms (24.8 days); a session may last longer. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The bus channel on which a sign-out (the token's hash) reaches every instance. */
export const REVOKED_CHANNEL = 'session.revoked';

/** The watched subscriptions of one session: one expiry timer for all of them. */
interface Watched {
  expiresAt: number;
  ends: Set<SessionEnd>;
  timer: NodeJS.Timeout | null;
}

/**
 * The open subscriptions of each session on this instance, so that a sign-out on any
 * instance (a bus message carrying the token's hash) or the session's expiry ends them
 * at once: every subscription of a revoked or expired session ends with UNAUTHORIZED
 * (docs/architecture.md "Access and moderation"). Calls on an open WebSocket re-check the session themselves; this is
 * for what outlives a call: subscriptions, over WebSocket and over SSE. The subscriptions
 * of one session share one entry and one timer (a user's 20 sockets cost one timer).
 */
export class SessionWatch {
  private readonly byHash = new Map<string, Watched>();
  private stopBus: (() => Promise<void>) | null = null;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Listens for revocations from every instance. Call once at start. */
  async start(): Promise<void> {
    this.stopBus = await this.bus.subscribe(REVOKED_CHANNEL, (hash) => this.end(hash, 'your session was revoked (signed out); sign in again'));
  }

  async stop(): Promise<void> {
    await this.stopBus?.();
  }

  /**
   * Calls `onEnd` once, when the session of `hash` is revoked (on any instance) or reaches
   * `expiresAt` (ms since the epoch); at once when that has passed. Returns the function
   * that stops watching.
   */
  watch(hash: string, expiresAt: number, onEnd: SessionEnd): () => void {
    if (expiresAt <= Date.now()) {
      onEnd(unauthorized('your session has expired; sign in again'));
      return () => {};
    }
    let w = this.byHash.get(hash);
    if (!w) {
      w = { expiresAt, ends: new Set(), timer: null };
      this.byHash.set(hash, w);
      this.arm(hash, w);
    }
    w.ends.add(onEnd);
    return this.unwatch.bind(this, hash, onEnd);
  }

  /** Ends the watched subscriptions of `hash` here and tells every other instance. Never throws. */
  async revoked(hash: string): Promise<void> {
    this.end(hash, 'your session was revoked (signed out); sign in again');
    await this.bus.publish(REVOKED_CHANNEL, hash).catch((err) => this.log.error({ err }, 'session revocation not published; other instances end its subscriptions at their next call'));
  }

  /** Number of watched subscriptions on this instance (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const w of this.byHash.values()) n += w.ends.size;
    return n;
  }

  private arm(hash: string, w: Watched) {
    const left = w.expiresAt - Date.now();
    if (left <= 0) return this.end(hash, 'your session has expired; sign in again');
    w.timer = setTimeout((self: SessionWatch) => self.byHash.get(hash) === w && self.arm(hash, w), Math.min(left, MAX_TIMER_MS), this).unref();
  }

  private unwatch(hash: string, onEnd: SessionEnd) {
    const w = this.byHash.get(hash);
    if (!w || !w.ends.delete(onEnd) || w.ends.size > 0) return;
    if (w.timer) clearTimeout(w.timer);
    this.byHash.delete(hash);
  }

  private end(hash: string, message: string) {
    const w = this.byHash.get(hash);
    if (!w) return;
    this.byHash.delete(hash);
    if (w.timer) clearTimeout(w.timer);
    for (const onEnd of w.ends) onEnd(unauthorized(message));
  }
}
