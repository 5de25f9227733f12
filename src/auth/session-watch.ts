import type { Logger } from 'pino';
import type { Bus } from '../infra/bus.js';
import { unauthorized, type AppError } from '../errors.js';

/** Called once when a watched session ends, with the error to end its subscriptions with. */
export type SessionEnd = (error: AppError) => void;

/** setTimeout takes at most 2^31 - 1 ms (24.8 days); a session may last longer. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const CHANNEL = 'session.revoked';

/**
 * The open subscriptions of each session on this instance, so that a sign-out on any
 * instance (a bus message carrying the token's hash) or the session's expiry ends them
 * at once: every subscription of a revoked or expired session ends with UNAUTHORIZED
 * (docs/architecture.md "Access and moderation"). Calls on an open WebSocket re-check the session themselves; this is
 * for what outlives a call: subscriptions, over WebSocket and over SSE.
 */
export class SessionWatch {
  private readonly byHash = new Map<string, Set<SessionEnd>>();
  private readonly forgetters: ((hash: string | null) => void)[] = [];
  private stopBus: (() => Promise<void>) | null = null;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Listens for revocations from every instance. Call once at start. */
  async start(): Promise<void> {
    // Revocations sent while the bus was away are lost: every local copy goes.
    this.bus.onReconnect(() => this.forget(null));
    this.stopBus = await this.bus.subscribe(CHANNEL, (hash) => this.end(hash, 'your session was revoked (signed out); sign in again'));
  }

  /**
   * Calls `cb` with the hash of every session revoked on any instance (and here), or with
   * null when revocations may have been missed (the bus reconnected): for the copies of
   * sessions an instance keeps in memory (AuthService).
   */
  onRevoked(cb: (hash: string | null) => void): void {
    this.forgetters.push(cb);
  }

  /** Whether revocations reach this instance from the others (start() ran). */
  get listening(): boolean {
    return this.stopBus !== null;
  }

  async stop(): Promise<void> {
    await this.stopBus?.();
  }

  /**
   * Calls `onEnd` once, when the session of `hash` is revoked (on any instance) or reaches
   * `expiresAt` (ms since the epoch). Returns the function that stops watching.
   */
  watch(hash: string, expiresAt: number, onEnd: SessionEnd): () => void {
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const once: SessionEnd = (error) => {
      if (done) return;
      done = true;
      stop();
      onEnd(error);
    };
    const arm = () => {
      const left = expiresAt - Date.now();
      if (left <= 0) return once(unauthorized('your session has expired; sign in again'));
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS)).unref();
    };
    const stop = () => {
      done = true;
      if (timer) clearTimeout(timer);
      const set = this.byHash.get(hash);
      set?.delete(once);
      if (set?.size === 0) this.byHash.delete(hash);
    };
    let set = this.byHash.get(hash);
    if (!set) this.byHash.set(hash, (set = new Set()));
    set.add(once);
    arm();
    return stop;
  }

  /** Ends the watched subscriptions of `hash` here and tells every other instance. Never throws. */
  async revoked(hash: string): Promise<void> {
    this.end(hash, 'your session was revoked (signed out); sign in again');
    await this.bus.publish(CHANNEL, hash).catch((err) => this.log.error({ err }, 'session revocation not published; other instances end its subscriptions at their next call'));
  }

  /** Number of watched subscriptions on this instance (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const s of this.byHash.values()) n += s.size;
    return n;
  }

  private forget(hash: string | null) {
    for (const cb of this.forgetters) cb(hash);
  }

  private end(hash: string, message: string) {
    this.forget(hash);
    const set = this.byHash.get(hash);
    if (!set) return;
    for (const onEnd of [...set]) onEnd(unauthorized(message));
  }
}
