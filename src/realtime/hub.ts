import superjson from 'superjson';
import type { Logger } from 'pino';
import type { Bus } from '../infra/bus.js';
import type { ScopeEvent } from '../messages/events.js';

/** A local listener of one scope's events. */
export type ScopeListener = (event: ScopeEvent) => void;

/**
 * The instance's dispatcher of conversation events. It keeps one bus subscription per
 * scope that has local listeners (reference-counted), deserialises each bus message once,
 * and hands the same object to every local listener. Publishing serialises once.
 */
export class ScopeHub {
  private readonly scopes = new Map<string, { listeners: Set<ScopeListener>; ready: Promise<() => Promise<void>> }>();

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /**
   * Publishes a committed event to every instance. A failed publish is logged, not
   * thrown: subscribers repair the gap from the database on the next event.
   */
  async publish(event: ScopeEvent): Promise<void> {
    try {
      await this.bus.publish(channelOf(event.scopeId), superjson.stringify(event));
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
      ready.catch(() => {
        if (this.scopes.get(scopeId) === entry) this.scopes.delete(scopeId);
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

  /** Number of scopes with local listeners (for metrics and tests). */
  get activeScopes(): number {
    return this.scopes.size;
  }

  private dispatch(scopeId: string, listeners: Set<ScopeListener>, raw: string) {
    let event: ScopeEvent;
    try {
      event = superjson.parse<ScopeEvent>(raw);
    } catch (err) {
      this.log.error({ err, scopeId }, 'dropping an unreadable bus message');
      return;
    }
    for (const l of listeners) l(event);
  }
}

const channelOf = (scopeId: string) => `scope:${scopeId}`;
