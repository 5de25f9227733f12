import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MemoryBus, RedisBus, type Bus } from '../src/infra/bus.js';
import { openRedis } from '../src/infra/redis.js';
import { PresenceService, type PresenceEvent } from '../src/realtime/presence.js';
import { REDIS_URL } from './helpers/env.js';
import { testPrefix } from './helpers/server.js';

/**
 * Presence changes of many connections of one user at once (a client opening several
 * sockets, a reconnect storm): the status before and after each change is read in the
 * same step as the change, so the user goes online once and offline once, whatever the
 * interleaving. Against real Redis (and the in-process store of the embedded mode).
 */

const opened: { redis: Redis; bus: Bus }[] = [];
afterAll(async () => {
  for (const o of opened) {
    await o.bus.close();
    o.redis.disconnect();
  }
});

function stores(): { name: string; make: () => { presence: PresenceService; bus: Bus } }[] {
  return [
    {
      name: 'Redis',
      make: () => {
        const redis = openRedis(REDIS_URL);
        const prefix = testPrefix();
        const bus = new RedisBus(redis, prefix);
        opened.push({ redis, bus });
        return { presence: new PresenceService(bus, redis, prefix), bus };
      },
    },
    {
      name: 'memory',
      make: () => {
        const bus = new MemoryBus();
        return { presence: new PresenceService(bus, null, ''), bus };
      },
    },
  ];
}

/** The presence events of `userId` published up to now: a marker published after them closes the list. */
async function eventsOf(bus: Bus, userId: string, run: () => Promise<void>): Promise<PresenceEvent['status'][]> {
  const got: PresenceEvent['status'][] = [];
  let done!: () => void;
  const marked = new Promise<void>((r) => (done = r));
  const stop = await bus.subscribe(`presence:${userId}`, (raw) => {
    const e = JSON.parse(raw) as PresenceEvent | { marker: true };
    if ('marker' in e) done();
    else got.push(e.status);
  });
  await run();
  await bus.publish(`presence:${userId}`, JSON.stringify({ marker: true }));
  await marked;
  await stop();
  return got;
}

describe('presence of many connections of one user', () => {
  for (const { name, make } of stores()) {
    it(`(${name}) ten connections opening at once publish one online; closing at once, one offline`, async () => {
      const { presence, bus } = make();
      const userId = `u-${randomBytes(4).toString('hex')}`;
      const conns = Array.from({ length: 10 }, (_, i) => `c${i}`);
      expect(await eventsOf(bus, userId, async () => void (await Promise.all(conns.map((c) => presence.connected(userId, c)))))).toEqual(['online']);
      expect(await presence.status([userId])).toEqual([{ userId, status: 'online' }]);
      expect(await eventsOf(bus, userId, async () => void (await Promise.all(conns.slice(1).map((c) => presence.disconnected(userId, c)))))).toEqual([]);
      expect(await eventsOf(bus, userId, () => presence.setIdle(userId, true).then(() => {}))).toEqual(['idle']);
      expect(await eventsOf(bus, userId, () => presence.disconnected(userId, conns[0]!))).toEqual(['offline']);
      expect(await presence.status([userId])).toEqual([{ userId, status: 'offline' }]);
      await presence.setIdle(userId, false);
    });
  }
});
