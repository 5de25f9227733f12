import type { Logger } from 'pino';
import { AppError, invalid } from '../errors.js';
import type { ScopeHub, ScopeListener } from './hub.js';
import { WireEvent } from './wire.js';
import type { Guard } from './guard.js';
import { isUnavailable } from '../guard/unavailable.js';

/** How soon a feed retries a catch-up read that failed because the database was unavailable (ms). */
const CATCH_UP_RETRY_MS = 250;

export interface FeedOptions {
  hub: ScopeHub;
  log: Logger;
  /** Which log this feed follows: a conversation (`key` = scope id) or a user stream (`key` = user id). */
  kind: 'scope' | 'user';
  key: string;
  /** The hub channel that announces new events of this log. */
  channel: string;
  /** Reads events with seq > `after`, oldest first, at most `limit`. */
  read: (after: number, limit: number) => Promise<WireEvent[]>;
  /** The event sent instead of a too-long replay (null: always replay). */
  resync: ((latest: number, missed: number) => WireEvent) | null;
  /** For a conversation, its ancestors then itself, root first (to end feeds below a scope); else []. */
  scopePath: readonly string[];
  userId: string;
  /** seq of the last event the client has; null or undefined to start live. */
  lastEventId: string | null | undefined;
  /** Reads the scope's current last seq. */
  currentSeq: () => Promise<number>;
  /** True while the user may still view the scope; asked when access may have changed. */
  stillAllowed: () => Promise<boolean>;
  /**
   * The user sees nothing up to this seq, nor any event about a message up to it
   * (historyVisibility `joined`: the seq of their member.joined). 0 or absent: everything.
   * Such events are passed over: the feed moves past them without sending them.
   */
  floor?: number;
  /** Events per database page while catching up. */
  pageSize: number;
  /** A resume further behind than this gets `resync.required` instead of a replay. */
  maxReplay: number;
  /**
   * Ephemeral events beside the log (not stored, not replayed): started once the feed is
   * live; each one is sent with the last delivered seq as its id, so a resume still
   * starts after the last durable event. Returns the function that stops it.
   */
  ephemeral?: (send: (event: unknown) => void) => Promise<() => Promise<void>>;
  /**
   * Live delivery shared with the other feeds of this instance that write the same bytes
   * (the WebSocket fast path, src/realtime/socket-group.ts): the feed subscribes through
   * it instead of the hub, and while the feed is in step the group writes for it.
   */
  group?: FeedGroup;
  /** End the feed from outside with their error (a session revoked or expired): src/realtime/guard.ts. */
  guards?: Guard[];
  /** Delivers one event; returning false ends the feed (the reader is gone or too slow). */
  emit: (event: WireEvent) => boolean;
  /** Ends the feed with an error (database failure, lost access). */
  fail: (error: unknown) => void;
}

/** What a feed needs of the group that may deliver for it (src/realtime/socket-group.ts). */
export interface FeedGroup {
  /** Like ScopeHub.subscribe for this feed: resolves once the channel's bus subscription is active. */
  subscribe(feed: ScopeFeed): Promise<() => Promise<void>>;
  /** The seq of the last event the group delivered to its members. */
  readonly last: number;
  /** Takes the feed out of the group's members, giving it back the group's seq; a no-op for a non-member. */
  release(feed: ScopeFeed): void;
}

/**
 * One subscriber's view of a conversation: the single state machine behind both the
 * WebSocket fast path and the iterator path. It subscribes to the hub first, then reads
 * the database: it replays what came after `lastEventId` (or starts at the current seq),
 * then goes live. Live events are delivered in seq order; one already delivered is
 * dropped; a gap (a lost publish) is backfilled from the database before anything newer.
 * So the client sees every event once, in order. With a `group`, the group delivers the
 * in-order live events while the feed is in step, and hands the feed back to this state
 * machine, at the seq it reached, for anything else.
 */
export class ScopeFeed implements ScopeListener {
  private last = 0;
  private highestSeen = 0;
  private catching = true;
  private stopped = false;
  private unsubscribe: (() => Promise<void>) | null = null;
  private stopEphemeral: (() => Promise<void>) | null = null;
  private readonly unguards: (() => void)[] = [];
  /** True while the group delivers for this feed (then the group's seq is the feed's). */
  private grouped = false;
  /** True from the user's own member.left until access is re-checked: nothing more is delivered meanwhile. */
  private held = false;
  /** A poke came while the feed was starting (or catching up): the start reads the database. */
  private pokedWhileCatching = false;

  constructor(readonly o: FeedOptions) {}

  /**
   * Starts the feed; resolves once it is live.
   * @throws Invalid when `lastEventId` is ahead of the conversation.
   */
  async start(): Promise<void> {
    for (const guard of this.o.guards ?? []) this.unguards.push(await guard((error) => this.end(error)));
    if (this.stopped) return;
    this.unsubscribe = this.o.group ? await this.o.group.subscribe(this) : await this.o.hub.subscribe(this.o.channel, this);
    this.o.hub.registerFeed(this);
    const current = await this.o.currentSeq();
    // The procedure checked access before this feed was registered, and a removal committed
    // in between had its access notice find no feed to re-check (the client had its
    // 'started' frame already). So access is checked again here, after the seq this feed
    // starts from was read: a removal committed before that read is seen now, and one
    // committed after it is a member.left this feed receives, and holds on.
    // A failed check is the start's failure (with the database restarting, the socket is
    // closed for the client to resume), not a refusal.
    if (!(await this.o.stillAllowed())) return this.end(new AccessRevokedError());
    if (this.stopped) return;
    if (this.o.lastEventId == null) {
      this.last = current;
    } else {
      const from = Number(this.o.lastEventId);
      if (from > current) {
        const stream = this.o.kind === 'scope' ? 'this conversation' : 'your event stream';
        throw invalid(`lastEventId ${this.o.lastEventId} is ahead of ${stream} (latest seq ${current}); resubscribe without it`);
      }
      this.last = from;
      if (this.o.resync && current - from > this.o.maxReplay) {
        this.last = current;
        this.o.hub.stats.resyncs++;
        if (!this.o.emit(this.o.resync(current, current - from))) return this.stop();
      }
    }
    // Starting live with nothing newer shown by the bus meanwhile: nothing to read (what
    // commits later is published after this feed's subscription was active).
    if (this.o.lastEventId == null && this.highestSeen <= this.last && !this.pokedWhileCatching) this.catching = false;
    else await this.catchUp();
    if (this.o.ephemeral && !this.stopped) {
      this.stopEphemeral = await this.o.ephemeral((event) => {
        if (!this.stopped && !this.o.emit(WireEvent.keyed(this.o.key, this.lastSeq, event))) void this.stop();
      });
      if (this.stopped) await this.stopEphemeral();
    }
  }

  /** Ends the feed and releases its hub subscription. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const unguard of this.unguards) unguard();
    this.o.hub.unregisterFeed(this);
    await this.stopEphemeral?.();
    await this.unsubscribe?.();
  }

  /** Re-checks access (after an access change); ends the feed with FORBIDDEN when it is gone. */
  async recheck(): Promise<void> {
    if (this.stopped) return;
    if (!(await this.allowedNow()) && !this.stopped) this.end(new AccessRevokedError());
  }

  /** `stillAllowed`, with a failed check (logged) taken as "no". */
  private async allowedNow(): Promise<boolean> {
    try {
      return await this.o.stillAllowed();
    } catch (err) {
      this.o.log.warn({ err, key: this.o.key }, 'access re-check failed; ending the subscription');
      return false;
    }
  }

  /**
   * Makes the feed look in the database for events it may have missed (after the bus
   * reconnected, or when the periodic sweep sees the scope ahead of it).
   */
  poke(latestSeq?: number): void {
    if (this.catching) this.pokedWhileCatching = true;
    if (this.stopped || this.catching) return;
    if (latestSeq !== undefined && latestSeq <= this.lastSeq) return;
    this.o.group?.release(this);
    if (latestSeq !== undefined && latestSeq > this.highestSeen) this.highestSeen = latestSeq;
    this.catching = true;
    this.catchUp().catch((err) => this.caughtUpFailed(err));
  }

  /** seq of the last event delivered. */
  get lastSeq(): number {
    return this.grouped ? this.o.group!.last : this.last;
  }

  /** @internal True when the feed is live at `seq`, so a group may deliver for it from there on. */
  inStepAt(seq: number): boolean {
    return !this.grouped && !this.catching && !this.stopped && this.last === seq;
  }

  /** @internal The group delivers for this feed from now on (it was in step). */
  joinGroup(): void {
    this.grouped = true;
  }

  /** @internal The group no longer delivers for this feed; `last` is the seq it had delivered. */
  leaveGroup(last: number): void {
    this.grouped = false;
    this.last = last;
  }

  /**
   * A catch-up read failed. When the database is only unreachable or restarting, the feed
   * stays and tries again shortly (its subscriber misses nothing: the next read starts from
   * the last seq delivered); any other failure ends the subscription with the error.
   */
  private caughtUpFailed(error: unknown) {
    if (this.stopped) return;
    if (!isUnavailable(error)) return this.end(error);
    this.o.log.warn({ err: error, key: this.o.key }, 'catch-up read failed while the database is unavailable; retrying');
    setTimeout(() => {
      // Caught up meanwhile (a later event or a poke repaired the gap) and back in its socket
      // group: the group delivers from the feed's seq on, and a read from the seq the feed had
      // when it joined would send again what the group wrote since (duplicated, out of order).
      if (this.stopped || this.catching || this.grouped) return;
      this.catching = true;
      this.catchUp().catch((err) => this.caughtUpFailed(err));
    }, CATCH_UP_RETRY_MS).unref();
  }

  private end(error: unknown) {
    if (this.stopped) return;
    void this.stop();
    this.o.fail(error);
  }

  /** @internal called by the hub (or the group) for each published event of the channel. */
  onWire(w: WireEvent): void {
    if (w.seq === this.last + 1 && !this.catching && !this.stopped && !this.grouped && !w.personal) {
      // The hot path of every live delivery: the next seq, written at once.
      this.last = w.seq;
      if (w.about !== 0 && this.hides(w)) return;
      if (!this.o.emit(w)) void this.stop();
      else {
        this.o.hub.stats.delivered(1, w.publishedAt);
        if (w.endsFor !== null && this.endsHere(w)) this.hold();
      }
      return;
    }
    if (this.stopped || this.grouped) return;
    if (w.seq > this.highestSeen) this.highestSeen = w.seq;
    if (this.catching || w.seq <= this.last) return;
    // A gap (a lost publish), or a personal event (shaped per receiver by `read`): read the
    // database up to what the bus has shown.
    if (!w.personal) this.o.hub.stats.gapRepairs++;
    this.catching = true;
    this.catchUp().catch((err) => this.caughtUpFailed(err));
  }

  /** Sends one event of a replay or catch-up; false: stop reading (the feed stopped or is held). */
  private deliver(w: WireEvent): boolean {
    if (w.seq <= this.last) return true;
    this.last = w.seq;
    if (this.hides(w)) return true;
    if (!this.o.emit(w)) {
      void this.stop();
      return false;
    }
    this.o.hub.stats.delivered(1, w.publishedAt);
    if (w.endsFor !== null && this.endsHere(w)) {
      this.hold();
      return false;
    }
    return true;
  }

  /** @internal True when the user may not see `w` (historyVisibility `joined`: before their join). */
  hides(w: WireEvent): boolean {
    const floor = this.o.floor ?? 0;
    return floor > 0 && (w.seq <= floor || (w.about !== 0 && w.about <= floor));
  }

  /** @internal True when `w` is this feed's user's own member.left: access may end with it. */
  endsHere(w: WireEvent): boolean {
    return this.o.kind === 'scope' && w.endsFor === this.o.userId;
  }

  /**
   * After the user's own member.left: deliver nothing more until access is re-checked.
   * Events committed after the removal are never sent, on any instance, whatever the
   * order in which the access notice and the events arrive; if access holds (an old
   * member.left in a replay, a rejoin), the feed catches up from the database.
   */
  private hold(): void {
    this.held = true;
    this.catching = true;
    this.o.group?.release(this);
    void this.o.stillAllowed().then(
      (allowed) => {
        if (this.stopped) return;
        if (!allowed) return this.end(new AccessRevokedError());
        this.held = false;
        this.catchUp().catch((err) => this.end(err));
      },
      (err: unknown) => {
        this.o.log.warn({ err, key: this.o.key }, 'access re-check failed; ending the subscription');
        this.end(new AccessRevokedError());
      },
    );
  }

  /** Reads the database from `last` until it has everything the bus has shown. */
  private async catchUp(): Promise<void> {
    this.catching = true;
    try {
      for (;;) {
        const page = await this.o.read(this.last, this.o.pageSize);
        if (this.stopped) return;
        for (const w of page) if (!this.deliver(w)) return;
        if (page.length === 0 || (page.length < this.o.pageSize && this.last >= this.highestSeen)) break;
      }
    } finally {
      this.catching = this.held;
    }
  }
}

/** The reason a feed ends when its user may no longer view the scope. */
export class AccessRevokedError extends AppError {
  constructor() {
    super('Forbidden', 'you can no longer view this conversation');
  }
}
