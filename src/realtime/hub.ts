import type { Logger } from 'pino';
import type { Bus } from '../infra/bus.js';
import type { ScopeEvent } from '../messages/events.js';
import { WireEvent } from './wire.js';
import type { ScopeFeed } from './feed.js';

/** A local listener of one scope's events. */
export type ScopeListener = (event: WireEvent) => void;

/**
 * The instance's dispatcher of conversation events. It keeps one bus subscription per
 * scope that has local listeners (reference-counted) and hands the same WireEvent to
 * every local listener: an event is serialised once where it is published and never
 * re-encoded on the way to sockets.
 */
export class ScopeHub {
  private readonly scopes = new Map<string, { listeners: Set<ScopeListener>; ready: Promise<() => Promise<void>> }>();
  private readonly feeds = new Set<ScopeFeed>();
  private stopAccess: (() => Promise<void>) | null = null;
  /** Test hook: when it returns true for a publish, the publish is dropped (a lost message). */
  dropPublish: ((event: ScopeEvent) => boolean) | null = null;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /**
   * Publishes a committed event to every instance. A failed publish is logged, not
   * thrown: subscribers repair the gap from the database on the next event.
   */
  async publish(event: ScopeEvent): Promise<void> {
    if (this.dropPublish?.(event)) return;
    try {
      await this.bus.publish(channelOf(event.scopeId), WireEvent.of(event).encode());
    } catch (err) {
      this.log.warn({ err, scopeId: event.scopeId, seq: event.seq }, 'publish failed; subscribers will backfill');
    }
  }

  /**
   * Adds a listener; resolves once the bus subscription is active, so a caller that
   * then reads the database misses nothing. Returns the function that removes it.
   */
  async subscribe(scopeId: string, listener: ScopeListener): Promise<() => Promise<void>> {
    let entry = this.scopes.get(scopeId);
    if (!entry) {
      const listeners = new Set<ScopeListener>();
      const ready = this.bus.subscribe(channelOf(scopeId), (raw) => this.dispatch(scopeId, listeners, raw));
      entry = { listeners, ready };
      this.scopes.set(scopeId, entry);
      const created = entry;
      ready.catch(() => {
        if (this.scopes.get(scopeId) === created) this.scopes.delete(scopeId);
      });
    }
    entry.listeners.add(listener);
    const current = entry;
    try {
      await current.ready;
    } catch (err) {
      current.listeners.delete(listener);
      throw err;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      current.listeners.delete(listener);
      if (current.listeners.size === 0 && this.scopes.get(scopeId) === current) {
        this.scopes.delete(scopeId);
        await (await current.ready)();
      }
    };
  }

  /** Listens for access changes from every instance. Call once at start. */
  async start(): Promise<void> {
    this.stopAccess = await this.bus.subscribe(ACCESS_CHANNEL, (raw) => {
      try {
        this.recheckLocal(JSON.parse(raw) as AccessChange);
      } catch (err) {
        this.log.error({ err }, 'dropping an unreadable access notice');
      }
    });
  }

  async stop(): Promise<void> {
    await this.stopAccess?.();
  }

  /**
   * Tells every instance that who may view what may have changed under `scopeId` (for
   * `userId` only, or for everyone when it is omitted). Each open conversation feed under
   * that scope re-checks its user's access and ends with FORBIDDEN when it is gone.
   * Call after the change commits (kick, ban, leave, role or overwrite change).
   */
  async accessChanged(change: AccessChange): Promise<void> {
    this.recheckLocal(change);
    try {
      await this.bus.publish(ACCESS_CHANNEL, JSON.stringify(change));
    } catch (err) {
      this.log.error({ err, change }, 'access notice not published; other instances re-check on their next event');
    }
  }

  /** @internal the feeds of this instance, for access re-checks. */
  registerFeed(feed: ScopeFeed) {
    this.feeds.add(feed);
  }

  /** @internal */
  unregisterFeed(feed: ScopeFeed) {
    this.feeds.delete(feed);
  }

  private recheckLocal(change: AccessChange) {
    for (const feed of this.feeds) {
      if (change.userId && feed.o.userId !== change.userId) continue;
      if (change.scopeId && !feed.o.scopePath.includes(change.scopeId)) continue;
      void feed.recheck();
    }
  }

  /** Number of open conversation feeds on this instance. */
  get feedCount(): number {
    return this.feeds.size;
  }

  /** Number of scopes with local listeners (for metrics and tests). */
  get activeScopes(): number {
    return this.scopes.size;
  }

  private dispatch(scopeId: string, listeners: Set<ScopeListener>, raw: string) {
    let wire: WireEvent;
    try {
      wire = WireEvent.decode(scopeId, raw);
    } catch (err) {
      this.log.error({ err, scopeId }, 'dropping an unreadable bus message');
      return;
    }
    for (const l of listeners) {
      try {
        l(wire);
      } catch (err) {
        this.log.error({ err, scopeId }, 'a scope listener failed');
      }
    }
  }
}

const channelOf = (scopeId: string) => `scope:${scopeId}`;
const ACCESS_CHANNEL = 'access';

/** An access change: under `scopeId` (and below), for `userId` or for everyone. */
export interface AccessChange {
  scopeId?: string;
  userId?: string;
}
