import type { ScopeHub, ScopeListener } from './hub.js';
import type { FeedGroup, ScopeFeed } from './feed.js';
import type { FrameWriter } from './frames.js';
import type { WireEvent } from './wire.js';

/**
 * The WebSocket fan-out loop. The feeds of one conversation on this instance whose
 * subscriptions have the same frame head (same subscription id and protocol: most
 * clients number their first subscription 1) share one group, and the group is their
 * single hub listener. While a feed is in step (live, at the group's seq), it is a
 * *member*: for each next event the group builds the frame once and writes it to every
 * member's socket in one tight loop, as a bare `ws` broadcast does, with no per-feed
 * state machine on the way. Anything else goes through each feed's own state machine
 * (src/realtime/feed.ts): a gap, a duplicate, a feed catching up, a closed socket or one
 * that stopped taking bytes. Such a feed leaves the group with the group's seq and
 * rejoins once it is in step again, so every subscriber still gets every event once, in
 * order.
 */
class SocketGroup implements ScopeListener {
  /** seq of the last event written to the members. */
  last = 0;
  /** Members and their writers, index for index. */
  private members: ScopeFeed[] = [];
  private writers: FrameWriter[] = [];
  /** Feeds that are not in step (starting, catching up, lagging), with their writers. */
  private others = new Map<ScopeFeed, FrameWriter>();
  private ready: Promise<() => Promise<void>> | null = null;

  constructor(
    private readonly hub: ScopeHub,
    private readonly channel: string,
    private readonly onEmpty: () => void,
  ) {}

  /** Adds a feed (not yet a member); resolves once the hub subscription is active. */
  async add(feed: ScopeFeed, writer: FrameWriter): Promise<() => Promise<void>> {
    this.others.set(feed, writer);
    this.ready ??= this.hub.subscribe(this.channel, this);
    try {
      await this.ready;
    } catch (err) {
      this.ready = null;
      await this.remove(feed);
      throw err;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      await this.remove(feed);
    };
  }

  /** Takes a member back to the feeds that deliver for themselves, at the group's seq. */
  release(feed: ScopeFeed): void {
    const i = this.members.indexOf(feed);
    if (i < 0) return;
    this.demote(i, this.last);
  }

  onWire(w: WireEvent): void {
    // An event some member may not get (its own member.left; one about a message it may
    // not see): those members take it through their own state machine.
    if ((w.endsFor !== null || w.about !== 0) && this.members.length > 0) {
      for (let i = this.members.length - 1; i >= 0; i--) {
        const feed = this.members[i]!;
        if (feed.endsHere(w) || feed.hides(w)) this.demote(i, this.last);
      }
    }
    const n = this.members.length;
    if (n > 0) {
      if (w.seq === this.last + 1 && !w.personal) {
        this.last = w.seq;
        const writers = this.writers;
        const frame = writers[0]!.frameOf(w);
        let lagging: number[] | null = null;
        for (let i = 0; i < n; i++) if (!writers[i]!.tryWrite(frame)) (lagging ??= []).push(i);
        this.hub.stats.delivered(n - (lagging?.length ?? 0), w.publishedAt);
        // They did not get this event: their own state machine delivers it (or ends them) below.
        if (lagging) for (let j = lagging.length - 1; j >= 0; j--) this.demote(lagging[j]!, w.seq - 1);
      } else if (w.seq > this.last) {
        // A gap, or a personal event: every member reads the database on its own, then rejoins.
        for (let i = this.members.length - 1; i >= 0; i--) this.demote(i, this.last);
      }
    }
    if (this.others.size === 0) return;
    for (const feed of [...this.others.keys()]) feed.onWire(w);
    for (const [feed, writer] of this.others) {
      // With no member left, the group starts again from the seq of this event.
      const at = this.members.length > 0 ? this.last : w.seq;
      if (!feed.inStepAt(at)) continue;
      this.last = at;
      this.others.delete(feed);
      this.members.push(feed);
      this.writers.push(writer);
      feed.joinGroup();
    }
  }

  /** Number of feeds the group delivers for. */
  get memberCount(): number {
    return this.members.length;
  }

  /** A poke (bus reconnected): every feed looks in the database for what it may have missed. */
  poke(): void {
    for (const feed of [...this.members, ...this.others.keys()]) feed.poke();
  }

  private demote(i: number, last: number) {
    const feed = this.members[i]!;
    this.others.set(feed, this.writers[i]!);
    this.members.splice(i, 1);
    this.writers.splice(i, 1);
    feed.leaveGroup(last);
  }

  private async remove(feed: ScopeFeed) {
    this.release(feed);
    this.others.delete(feed);
    if (this.members.length > 0 || this.others.size > 0) return;
    this.onEmpty();
    const ready = this.ready;
    this.ready = null;
    if (ready) await (await ready.catch(() => async () => {}))();
  }
}

const registries = new WeakMap<ScopeHub, SocketGroups>();

/** The socket groups of the instance whose hub this is. */
export function socketGroupsOf(hub: ScopeHub): SocketGroups {
  let groups = registries.get(hub);
  if (!groups) registries.set(hub, (groups = new SocketGroups(hub)));
  return groups;
}

/**
 * The socket groups of one instance, by conversation channel and frame head.
 * `handle(channel, writer)` gives a feed the FeedGroup through which it subscribes.
 */
export class SocketGroups {
  private readonly groups = new Map<string, SocketGroup>();

  constructor(private readonly hub: ScopeHub) {}

  /** The FeedGroup of one feed that writes with `writer` (a direct FrameWriter). */
  handle(channel: string, writer: FrameWriter): FeedGroup {
    return new GroupHandle(this, channel, writer);
  }

  /** @internal The group of `channel` and `headKey`, created when there is none. */
  groupFor(channel: string, headKey: string): SocketGroup {
    const key = `${channel}\n${headKey}`;
    let g = this.groups.get(key);
    if (!g) {
      const created = new SocketGroup(this.hub, channel, () => {
        if (this.groups.get(key) === created) this.groups.delete(key);
      });
      this.groups.set(key, created);
      g = created;
    }
    return g;
  }

  /** Number of groups (for tests and metrics). */
  get size(): number {
    return this.groups.size;
  }

  /** Number of feeds delivered for by a group's loop, over all groups (for tests and metrics). */
  get members(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.memberCount;
    return n;
  }
}

/** One feed's way into its socket group (an object per feed, no closures). */
class GroupHandle implements FeedGroup {
  private group: SocketGroup | null = null;

  constructor(
    private readonly groups: SocketGroups,
    private readonly channel: string,
    private readonly writer: FrameWriter,
  ) {}

  subscribe(feed: ScopeFeed): Promise<() => Promise<void>> {
    const g = (this.group = this.groups.groupFor(this.channel, this.writer.headKey));
    return g.add(feed, this.writer);
  }

  get last(): number {
    return this.group?.last ?? 0;
  }

  release(feed: ScopeFeed): void {
    this.group?.release(feed);
  }
}
