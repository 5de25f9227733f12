import type { Redis } from 'ioredis';
import type { Bus } from '../infra/bus.js';

/** online: a live connection, not idle; idle: connected but the client said so; offline: no live connection. */
export type PresenceStatus = 'online' | 'idle' | 'offline';

/** A presence change, never stored as a row. */
export interface PresenceEvent {
  userId: string;
  status: PresenceStatus;
}

/** A connection counts as live for this long after its last heartbeat (ms). */
export const PRESENCE_TTL_MS = 60_000;

/** Where live connections are kept: keys with a TTL in Redis (shared by every instance), or memory. */
interface PresenceStore {
  touch(userId: string, connId: string, expiresAt: number): Promise<void>;
  drop(userId: string, connId: string): Promise<void>;
  live(userId: string, now: number): Promise<number>;
  setIdle(userId: string, idle: boolean, ttlMs: number): Promise<void>;
  isIdle(userId: string): Promise<boolean>;
}

class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  private conns = (u: string) => `${this.prefix}presence:conns:${u}`;
  private idle = (u: string) => `${this.prefix}presence:idle:${u}`;
  async touch(userId: string, connId: string, expiresAt: number) {
    await this.redis.multi().zadd(this.conns(userId), expiresAt, connId).pexpire(this.conns(userId), PRESENCE_TTL_MS * 2).exec();
  }
  async drop(userId: string, connId: string) {
    await this.redis.zrem(this.conns(userId), connId);
  }
  async live(userId: string, now: number) {
    await this.redis.zremrangebyscore(this.conns(userId), '-inf', now);
    return this.redis.zcard(this.conns(userId));
  }
  async setIdle(userId: string, idle: boolean, ttlMs: number) {
    if (idle) await this.redis.set(this.idle(userId), '1', 'PX', ttlMs);
    else await this.redis.del(this.idle(userId));
  }
  async isIdle(userId: string) {
    return (await this.redis.exists(this.idle(userId))) === 1;
  }
}

class MemoryPresenceStore implements PresenceStore {
  private readonly conns = new Map<string, Map<string, number>>();
  private readonly idleUntil = new Map<string, number>();
  async touch(userId: string, connId: string, expiresAt: number) {
    let m = this.conns.get(userId);
    if (!m) this.conns.set(userId, (m = new Map()));
    m.set(connId, expiresAt);
  }
  async drop(userId: string, connId: string) {
    this.conns.get(userId)?.delete(connId);
  }
  async live(userId: string, now: number) {
    const m = this.conns.get(userId);
    if (!m) return 0;
    for (const [c, exp] of m) if (exp <= now) m.delete(c);
    if (m.size === 0) this.conns.delete(userId);
    return m.size;
  }
  async setIdle(userId: string, idle: boolean, ttlMs: number) {
    if (idle) this.idleUntil.set(userId, Date.now() + ttlMs);
    else this.idleUntil.delete(userId);
  }
  async isIdle(userId: string) {
    return (this.idleUntil.get(userId) ?? 0) > Date.now();
  }
}

/**
 * Presence derived from WebSocket connections on every instance: a user is online while
 * any of their connections is live (heartbeat within PRESENCE_TTL_MS, so a crashed
 * instance's connections expire by themselves), idle when the client said so, else
 * offline. Changes go out on the bus as ephemeral events, never rows.
 */
export class PresenceService {
  private readonly store: PresenceStore;

  constructor(
    private readonly bus: Bus,
    redis: Redis | null,
    prefix: string,
  ) {
    this.store = redis ? new RedisPresenceStore(redis, prefix) : new MemoryPresenceStore();
  }

  /** The status of each user. */
  async status(userIds: readonly string[]): Promise<PresenceEvent[]> {
    const now = Date.now();
    return Promise.all(
      userIds.map(async (userId) => {
        const live = await this.store.live(userId, now);
        const status: PresenceStatus = live === 0 ? 'offline' : (await this.store.isIdle(userId)) ? 'idle' : 'online';
        return { userId, status };
      }),
    );
  }

  /** A connection opened (or is still alive: call again as a heartbeat). */
  async connected(userId: string, connId: string): Promise<void> {
    await this.changing(userId, () => this.store.touch(userId, connId, Date.now() + PRESENCE_TTL_MS));
  }

  /** Keeps a live connection counted (one Redis command; call every ~20 s). */
  async heartbeat(userId: string, connId: string): Promise<void> {
    await this.store.touch(userId, connId, Date.now() + PRESENCE_TTL_MS);
  }

  /** A connection closed. */
  async disconnected(userId: string, connId: string): Promise<void> {
    await this.changing(userId, () => this.store.drop(userId, connId));
  }

  /** The client reports the user idle (away from keyboard) or back. */
  async setIdle(userId: string, idle: boolean): Promise<PresenceEvent> {
    await this.changing(userId, () => this.store.setIdle(userId, idle, PRESENCE_TTL_MS * 10));
    return (await this.status([userId]))[0]!;
  }

  /** Subscribes to the presence changes of `userIds`; returns the function that stops it. */
  async listen(userIds: readonly string[], onEvent: (e: PresenceEvent) => void): Promise<() => Promise<void>> {
    const stops = await Promise.all(
      userIds.map((u) => this.bus.subscribe(`presence:${u}`, (raw) => onEvent(JSON.parse(raw) as PresenceEvent))),
    );
    return async () => {
      await Promise.all(stops.map((s) => s()));
    };
  }

  private async changing(userId: string, change: () => Promise<void>) {
    const [before] = await this.status([userId]);
    await change();
    const [after] = await this.status([userId]);
    if (before!.status !== after!.status) await this.bus.publish(`presence:${userId}`, JSON.stringify(after));
  }
}
