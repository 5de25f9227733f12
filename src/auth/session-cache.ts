import type { Bus } from '../infra/bus.js';
import { LocalCache } from '../infra/local-cache.js';
import { REVOKED_CHANNEL } from './session-watch.js';

/**
 * Resolved sessions kept in this process for a short while (`ttlMs`), so that the
 * calls and subscriptions of a signed-in WebSocket (and every HTTP call) resolve the
 * token without a round trip to Redis or PostgreSQL. A sign-out on any instance removes
 * the entry everywhere: it publishes the token's hash on the bus (`session.revoked`,
 * the channel that also ends the session's subscriptions), and every instance drops it
 * on receipt. Pub/sub may lose a message while an instance's subscriber connection is
 * down: when the bus comes back this cache is emptied, and an entry never outlives
 * `ttlMs` whatever happens. A load that began before a revocation reached this
 * instance is not kept (`epoch`), so a lookup racing a sign-out cannot put the
 * revoked session back.
 */
export class SessionCache<T> {
  private readonly entries: LocalCache<T>;
  private epoch = 0;
  private stopBus: (() => Promise<void>) | null = null;

  constructor(
    private readonly bus: Bus,
    /** How long an entry is used (ms). */
    private readonly ttlMs: number,
    /** At most this many entries; past it the oldest go. */
    max: number,
  ) {
    this.entries = new LocalCache<T>(max);
  }

  /** Listens for sign-outs from every instance. Call once at start. */
  async start(): Promise<void> {
    this.stopBus = await this.bus.subscribe(REVOKED_CHANNEL, (hash) => this.drop(hash));
    this.bus.onReconnect(() => this.clear());
  }

  async stop(): Promise<void> {
    await this.stopBus?.();
    this.clear();
  }

  /** The entry of `hash` while it is fresh, else null. */
  get(hash: string): T | null {
    return this.entries.get(hash);
  }

  /** A mark to take before loading an entry and give to `set`. */
  mark(): number {
    return this.epoch;
  }

  /** Keeps `value` for `hash`, unless a revocation arrived since `mark` was taken. */
  set(hash: string, value: T, mark: number): void {
    if (mark !== this.epoch) return;
    this.entries.set(hash, value, this.ttlMs);
  }

  /** Forgets `hash` (a sign-out, here or on another instance). */
  drop(hash: string): void {
    this.epoch++;
    this.entries.delete(hash);
  }

  private clear() {
    this.epoch++;
    this.entries.clear();
  }
}
