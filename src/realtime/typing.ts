import type { Bus } from '../infra/bus.js';
import type { Cache } from '../infra/cache.js';

/** How long a typing notice lasts unless repeated (ms), as in Discord (~10 s) and Slack (~5 s). */
export const TYPING_TTL_MS = 6_000;

/** A typing notice: `userId` is typing in `scopeId` until `until`. Never stored. */
export interface TypingEvent {
  scopeId: string;
  userId: string;
  until: Date;
}

/**
 * Typing indicators: ephemeral bus messages, never rows. A client calls `start` while the
 * user types (at most every few seconds; repeats inside the window are absorbed by a
 * cache key), and subscribers drop a notice once `until` passes.
 */
export class TypingService {
  constructor(
    private readonly bus: Bus,
    private readonly cache: Cache,
  ) {}

  /** Announces that `userId` is typing in `scopeId`; returns the notice's expiry. */
  async start(scopeId: string, userId: string): Promise<TypingEvent> {
    const until = new Date(Date.now() + TYPING_TTL_MS);
    const key = `typing:${scopeId}:${userId}`;
    const event = { scopeId, userId, until };
    // One notice per window: a client may call on every keystroke.
    if (await this.cache.get(key).catch(() => null)) return event;
    await this.cache.set(key, '1', TYPING_TTL_MS / 2).catch(() => {});
    await this.bus.publish(`typing:${scopeId}`, JSON.stringify({ ...event, until: until.toISOString() }));
    return event;
  }

  /** Subscribes to a scope's typing notices; returns the function that stops it. */
  async listen(scopeId: string, onEvent: (e: TypingEvent) => void): Promise<() => Promise<void>> {
    return this.bus.subscribe(`typing:${scopeId}`, (raw) => {
      const e = JSON.parse(raw) as { scopeId: string; userId: string; until: string };
      onEvent({ scopeId: e.scopeId, userId: e.userId, until: new Date(e.until) });
    });
  }
}
