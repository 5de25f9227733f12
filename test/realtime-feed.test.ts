import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { MemoryBus } from '../src/infra/bus.js';
import { ScopeHub, scopeChannel } from '../src/realtime/hub.js';
import { AccessRevokedError, ScopeFeed } from '../src/realtime/feed.js';
import { socketGroupsOf } from '../src/realtime/socket-group.js';
import { WireEvent } from '../src/realtime/wire.js';
import type { FrameWriter } from '../src/realtime/frames.js';

/**
 * The feed state machine and the socket groups of src/realtime, driven event by event on
 * an in-process bus with a log held in memory, so a fault lands at an exact step (the
 * reliability test reaches the same steps only now and then, under real faults).
 */

const log = pino({ level: 'silent' });
const SCOPE = 'scope-1';

/** A conversation: its log (the "database"), its hub, and subscribers that record the seqs they get. */
function conversation() {
  const bus = new MemoryBus();
  const events: WireEvent[] = [];
  let failures = 0;
  let reads = 0;
  let sweepReads = 0;
  const hub = new ScopeHub(
    bus,
    log,
    async () => new Map([[SCOPE, events.length]]),
    600_000, // swept by hand below
    async (_scopeId, after, limit) => {
      sweepReads++;
      return events.filter((w) => w.seq > after).slice(0, limit);
    },
  );
  const publish = async (w: WireEvent) => {
    await bus.publish(scopeChannel(SCOPE), w.encode());
    await settle();
  };
  /** Commits the next event; `publish: false` loses its publish (or leaves it to `publish`). */
  const commit = async (publishIt = true) => {
    const w = WireEvent.keyed(SCOPE, events.length + 1, { type: 'test', n: events.length + 1 });
    events.push(w);
    if (publishIt) await publish(w);
    return w;
  };
  const subscribe = async (lastEventId: string | null = '0', o: { stillAllowed?: () => Promise<boolean>; fail?: (err: unknown) => void } = {}) => {
    const got: number[] = [];
    // A writer as the WebSocket path has: the group writes through it while the feed is in step.
    const writer = {
      headKey: '1',
      frameOf: (w: WireEvent) => w,
      tryWrite: (w: WireEvent) => (got.push(w.seq), true),
    } as unknown as FrameWriter;
    const feed = new ScopeFeed({
      hub,
      log,
      kind: 'scope',
      key: SCOPE,
      channel: scopeChannel(SCOPE),
      read: async (after, limit) => {
        reads++;
        await settle();
        if (failures > 0 && failures--) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
        return events.filter((w) => w.seq > after).slice(0, limit);
      },
      resync: null,
      scopePath: [SCOPE],
      userId: 'u1',
      lastEventId,
      currentSeq: async () => events.length,
      stillAllowed: o.stillAllowed ?? (async () => true),
      pageSize: 100,
      maxReplay: 1_000,
      group: socketGroupsOf(hub).handle(scopeChannel(SCOPE), writer),
      emit: (w) => (got.push(w.seq), true),
      fail:
        o.fail ??
        ((err) => {
          throw err;
        }),
    });
    await feed.start();
    return { feed, got };
  };
  return {
    hub,
    commit,
    publish,
    /** Runs the periodic sweep once, to rest. */
    sweep: async () => {
      await hub.sweep();
      await settle();
    },
    subscribe,
    groups: socketGroupsOf(hub),
    /** The next `n` database reads fail as during a PostgreSQL failover. */
    failReads: (n: number) => void (failures = n),
    /** Catch-up reads of the feeds themselves. */
    get reads() {
      return reads;
    },
    /** Reads of the sweep's repair (once per conversation). */
    get sweepReads() {
      return sweepReads;
    },
  };
}

/** Lets the in-process bus and the feeds' reads run to rest. */
async function settle() {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => queueMicrotask(r));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a feed through a database fault', () => {
  it('a catch-up retried after a failed read does not replay what its socket group delivered meanwhile', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const c = conversation();
    const { got } = await c.subscribe();
    await c.commit(); // 1: the feed joins its group
    expect(c.groups.members).toBe(1);
    await c.commit(false); // 2: its publish is lost
    c.failReads(1);
    await c.commit(); // 3: the gap sends the feed to the database, whose read fails: a retry is due
    await c.commit(); // 4: the next event repairs the gap meanwhile (2, 3, 4)
    await c.commit(); // 5: in step again: the feed rejoins its group
    expect(c.groups.members).toBe(1);
    await c.commit(); // 6: written by the group
    await vi.advanceTimersByTimeAsync(1_000); // the retry of the failed read comes due
    await settle();
    await c.commit(); // 7
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('access that ends while a subscription starts', () => {
  it.each([null, '0'])('a feed whose user was removed after the procedure checked access, before the feed was registered, delivers nothing and ends FORBIDDEN (lastEventId %s)', async (lastEventId) => {
    const c = conversation();
    await c.commit(); // 1
    // The procedure's check passed; then the removal committed, and its access notice found
    // no feed to re-check (the feed starts after the 'started' frame). Access is gone now.
    const failures: unknown[] = [];
    const { got } = await c.subscribe(lastEventId, { stillAllowed: async () => false, fail: (err) => failures.push(err) });
    await c.commit(); // 2: committed after the removal
    await settle();
    expect(got).toEqual([]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(AccessRevokedError);
  });
});

describe('the periodic sweep', () => {
  it('leaves alone the commits whose publish is on its way: no feed leaves its group, none reads the database', async () => {
    const c = conversation();
    const subs = [await c.subscribe(), await c.subscribe(), await c.subscribe()];
    await c.commit();
    expect(c.groups.members).toBe(3);
    const readsBefore = c.reads;
    // A steady load: at every sweep one event is committed and its publish not yet delivered.
    for (let round = 0; round < 10; round++) {
      const inFlight = await c.commit(false);
      await c.sweep();
      expect(c.groups.members).toBe(3);
      await c.publish(inFlight);
      await c.commit();
    }
    expect(c.reads - readsBefore).toBe(0);
    expect(c.sweepReads).toBe(0);
    for (const s of subs) expect(s.got).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('repairs a publish lost with nothing after it once it stays missing past one sweep, with one read for the whole group', async () => {
    const c = conversation();
    const subs = [await c.subscribe(), await c.subscribe(), await c.subscribe()];
    await c.commit();
    expect(c.groups.members).toBe(3);
    const readsBefore = c.reads;
    await c.commit(false); // 2: lost, and nothing follows it
    await c.sweep(); // first seen missing: within the grace period
    for (const s of subs) expect(s.got).toEqual([1]);
    await c.sweep(); // still missing one sweep later: repaired
    for (const s of subs) expect(s.got).toEqual([1, 2]);
    expect(c.sweepReads).toBe(1);
    expect(c.reads - readsBefore).toBe(0);
    expect(c.groups.members).toBe(3);
    await c.commit();
    for (const s of subs) expect(s.got).toEqual([1, 2, 3]);
    expect(c.hub.stats.sweepRepairs).toBe(1);
  });

  it('repairs subscribers at different seqs with one read from the lowest: each gets every event once, in order', async () => {
    const c = conversation();
    const a = await c.subscribe();
    await c.commit(); // 1
    await c.commit(false); // 2: lost
    const b = await c.subscribe(null); // starts live at 2
    await c.commit(false); // 3: lost
    await c.sweep();
    await c.sweep();
    expect(c.sweepReads).toBe(1);
    await c.commit(); // 4
    expect(a.got).toEqual([1, 2, 3, 4]);
    expect(b.got).toEqual([3, 4]);
    expect(c.groups.members).toBe(2);
  });
});
