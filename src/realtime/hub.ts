import type { Logger } from 'pino';
import type { Bus } from '../infra/bus.js';
import type { ScopeEvent } from '../messages/events.js';
import { WireEvent } from './wire.js';
import type { ScopeFeed } from './feed.js';
import { FanoutStats } from './stats.js';

/**
 * Something on this instance bound to a user's access to a scope (an open feed, a typing
 * or presence subscription): re-checked on every access notice that concerns it.
 */
export interface AccessWatcher {
  /** Does this notice concern the watcher? (by default: its user, under its scope path) */
  concerns(change: AccessChange): boolean;
  recheck(): Promise<void>;
}

/** A local listener of one channel. */
export interface ScopeListener {
  /** A new event of the channel, as published (possibly out of order, duplicated or after a gap). */
  onWire(event: WireEvent): void;
  /** A poke: something was written that was not published as an event; read the database. */
  poke(): void;
}

interface Channel {
  /** Replaced, never mutated, when a listener comes or goes, so a dispatch loops over a stable array. */
  listeners: readonly ScopeListener[];
  ready: Promise<() => Promise<void>>;
}

/**
 * The instance's dispatcher of conversation events. It keeps one bus subscription per
 * scope that has local listeners (reference-counted) and hands the same WireEvent to
 * every local listener: an event is serialised once where it is published and never
 * re-encoded on the way to sockets.
 */
export class ScopeHub {
  private readonly channels = new Map<string, Channel>();
  private readonly feeds = new Set<ScopeFeed>();
  private readonly watchers = new Set<AccessWatcher>();
  private stopAccess: (() => Promise<void>) | null = null;
  /** What the fan-out counts, for `/metrics`. */
  readonly stats = new FanoutStats();
  /** Test hook: when it returns true for a publish, the publish is dropped (a lost message). */
  dropPublish: ((event: ScopeEvent) => boolean) | null = null;

  private sweeper: NodeJS.Timeout | null = null;
  /** The last seqs the previous sweep read, by kind and key: what may be repaired by this one. */
  private swept = { scope: new Map<string, number>(), user: new Map<string, number>() };

  /**
   * @param lastSeqs reads the current last seq of scopes (for the sweep).
   * @param sweepMs how often open feeds are compared with the database (ms).
   * @param repairRead reads a conversation's events with seq > `after`, oldest first, at most
   *   `limit`, each flagged personal as its publisher flags it: the sweep's repair, once per
   *   conversation. Without it, each late feed reads the database on its own.
   */
  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly lastSeqs: (kind: 'scope' | 'user', keys: string[]) => Promise<Map<string, number>> = async () => new Map(),
    private readonly sweepMs = 5_000,
    private readonly repairRead: ((scopeId: string, after: number, limit: number) => Promise<WireEvent[]>) | null = null,
  ) {
    bus.onReconnect(() => {
      this.log.info({ feeds: this.feeds.size }, 'bus reconnected; feeds catch up from the database');
      for (const feed of this.feeds) feed.poke();
    });
  }

  /**
   * Publishes a committed event to every instance. A failed publish is logged, not
   * thrown: subscribers repair the gap from the database on the next event. `personal`:
   * each subscriber reads this event from the log, shaped for it (WireEvent.personal).
   */
  async publish(event: ScopeEvent, personal = false): Promise<void> {
    if (event.type === 'message.created') this.stats.messagesSent++;
    if (this.dropPublish?.(event)) return;
    try {
      await this.bus.publish(scopeChannel(event.scopeId), WireEvent.of(event, personal).encode());
    } catch (err) {
      this.stats.publishFailures++;
      this.log.warn({ err, scopeId: event.scopeId, seq: event.seq }, 'publish failed; subscribers will backfill');
    }
    // The same commit wrote user_events (triggers on memberships and mentions): wake those streams.
    for (const userId of usersConcerned(event)) await this.pokeUser(userId);
  }

  /**
   * Adds a listener; resolves once the bus subscription is active, so a caller that
   * then reads the database misses nothing. Returns the function that removes it.
   */
  async subscribe(channel: string, listener: ScopeListener): Promise<() => Promise<void>> {
    let entry = this.channels.get(channel);
    if (!entry) {
      const key = keyOf(channel);
      const created: Channel = { listeners: [], ready: null! };
      created.ready = this.bus.subscribe(channel, (raw) => this.dispatch(key, created, raw));
      entry = created;
      this.channels.set(channel, entry);
      created.ready.catch(() => {
        if (this.channels.get(channel) === created) this.channels.delete(channel);
      });
    }
    const current = entry;
    current.listeners = [...current.listeners, listener];
    const remove = () => (current.listeners = current.listeners.filter((l) => l !== listener));
    try {
      await current.ready;
    } catch (err) {
      remove();
      throw err;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      remove();
      if (current.listeners.length === 0 && this.channels.get(channel) === current) {
        this.channels.delete(channel);
        await (await current.ready)();
      }
    };
  }

  /** Listens for access changes from every instance. Call once at start. */
  async start(): Promise<void> {
    this.sweeper = setInterval(() => {
      this.sweep().catch((err) => this.log.warn({ err }, 'feed sweep failed'));
    }, this.sweepMs).unref();
    this.stopAccess = await this.bus.subscribe(ACCESS_CHANNEL, (raw) => {
      try {
        this.recheckLocal(JSON.parse(raw) as AccessChange);
      } catch (err) {
        this.log.error({ err }, 'dropping an unreadable access notice');
      }
    });
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.stopAccess?.();
  }

  /**
   * The safety net for a publish lost while nothing else follows it (an instance died
   * between commit and publish): compares every open feed with its scope's last seq in
   * one query. Only a seq that is still missing one sweep later is repaired (a commit whose
   * publish is on its way is none of the sweep's business: under load there always is
   * one). A conversation's repair is one database read on this instance: its events from
   * the lowest late feed's seq up to the missing seq are handed to the conversation's
   * listeners as if the bus had brought them, so socket groups write them to their
   * members in one loop and every feed drops what it has. A user stream, or a repair of
   * more than REPAIR_MAX_EVENTS, makes each late feed read the database itself.
   */
  async sweep(): Promise<void> {
    for (const kind of ['scope', 'user'] as const) {
      const feeds = [...this.feeds].filter((f) => f.o.kind === kind);
      if (feeds.length === 0) {
        this.swept[kind] = new Map();
        continue;
      }
      const latest = await this.lastSeqs(kind, [...new Set(feeds.map((f) => f.o.key))]);
      const due = this.swept[kind];
      this.swept[kind] = latest;
      const late = new Map<string, ScopeFeed[]>();
      for (const feed of feeds) {
        const missing = due.get(feed.o.key);
        if (missing === undefined || missing <= feed.lastSeq) continue;
        const behind = late.get(feed.o.key);
        if (behind) behind.push(feed);
        else late.set(feed.o.key, [feed]);
      }
      for (const [key, behind] of late) {
        this.stats.sweepRepairs++;
        const upto = due.get(key)!;
        if (kind === 'scope' && (await this.repairChannel(key, behind, upto))) continue;
        for (const feed of behind) feed.poke(latest.get(key) ?? upto);
      }
    }
  }

  /**
   * Reads conversation `scopeId` once, from the lowest seq of `behind` up to `upto`, and
   * dispatches the events to its local listeners. False when it cannot (no repair read, no
   * local listener, too far behind): the caller pokes the feeds instead.
   */
  private async repairChannel(scopeId: string, behind: ScopeFeed[], upto: number): Promise<boolean> {
    const channel = this.channels.get(scopeChannel(scopeId));
    if (!this.repairRead || !channel) return false;
    let after = Math.min(...behind.map((f) => f.lastSeq));
    if (upto - after > REPAIR_MAX_EVENTS) return false;
    while (after < upto) {
      const page = await this.repairRead(scopeId, after, Math.min(REPAIR_PAGE, upto - after));
      if (page.length === 0) break;
      // The listeners as they are now (a feed may have come or gone during the read).
      for (const w of page) for (const listener of channel.listeners) this.guard(scopeId, listener, w);
      after = page.at(-1)!.seq;
    }
    return true;
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

  /** Re-checks `watcher` on every access notice that concerns it; returns the function that stops it. */
  watchAccess(watcher: AccessWatcher): () => void {
    this.watchers.add(watcher);
    return () => void this.watchers.delete(watcher);
  }

  private recheckLocal(change: AccessChange) {
    for (const feed of this.feeds) {
      if (!concernsPath(change, feed.o.userId, feed.o.scopePath)) continue;
      void feed.recheck();
    }
    for (const w of this.watchers) if (w.concerns(change)) void w.recheck();
  }

  /** Number of open conversation feeds on this instance. */
  get feedCount(): number {
    return this.feeds.size;
  }

  /** Number of bus channels with local listeners (for metrics and tests). */
  get activeChannels(): number {
    return this.channels.size;
  }

  /**
   * Tells the user streams of `userId`, on every instance, to read their log: call after
   * a commit that wrote user_events (the rows are written by triggers).
   */
  async pokeUser(userId: string): Promise<void> {
    try {
      await this.bus.publish(userChannel(userId), POKE);
    } catch (err) {
      this.log.warn({ err, userId }, 'user poke not published; the sweep delivers it');
    }
  }

  /** The hot loop of every live delivery: one decode per event, then one call per local listener. */
  private dispatch(scopeId: string, channel: Channel, raw: string) {
    const listeners = channel.listeners;
    if (raw === POKE) {
      for (let i = 0; i < listeners.length; i++) this.guard(scopeId, listeners[i]!, null);
      return;
    }
    let wire: WireEvent;
    try {
      wire = WireEvent.decode(scopeId, raw);
    } catch (err) {
      this.log.error({ err, scopeId }, 'dropping an unreadable bus message');
      return;
    }
    for (let i = 0; i < listeners.length; i++) this.guard(scopeId, listeners[i]!, wire);
  }

  /** Calls one listener; a listener that throws is logged and does not stop the others. */
  private guard(scopeId: string, listener: ScopeListener, wire: WireEvent | null) {
    try {
      if (wire) listener.onWire(wire);
      else listener.poke();
    } catch (err) {
      this.log.error({ err, scopeId }, 'a scope listener failed');
    }
  }
}

/** Users whose own stream a conversation event adds to (mentioned, joined, left). */
function usersConcerned(event: ScopeEvent): string[] {
  if (event.type === 'message.created' || event.type === 'message.edited') return event.message.mentions?.userIds ?? [];
  if (event.type === 'member.joined' || event.type === 'member.left') return [event.userId];
  return [];
}

/** The channel of a conversation's events. */
export const scopeChannel = (scopeId: string) => `scope:${scopeId}`;
/** The channel that pokes a user's streams. */
export const userChannel = (userId: string) => `user:${userId}`;
const keyOf = (channel: string) => channel.slice(channel.indexOf(':') + 1);
const POKE = 'poke';
/** The sweep repairs a conversation with one read of at most this many events; further behind, each late feed reads on its own. */
const REPAIR_MAX_EVENTS = 1_000;
/** Events per page of the sweep's repair read. */
const REPAIR_PAGE = 200;
const ACCESS_CHANNEL = 'access';

/** True when `change` may alter what `userId` sees in the scope whose path (root first, itself last) is `scopePath`. */
export function concernsPath(change: AccessChange, userId: string, scopePath: readonly string[]): boolean {
  if (change.userId && change.userId !== userId) return false;
  return !change.scopeId || scopePath.includes(change.scopeId);
}

/** An access change: under `scopeId` (and below), for `userId` or for everyone. */
export interface AccessChange {
  scopeId?: string;
  userId?: string;
}
