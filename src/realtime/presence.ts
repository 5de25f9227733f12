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

/** A user's status just before and just after one change, read in the same step as the change. */
interface Change {
  before: PresenceStatus;
  after: PresenceStatus;
}

/**
 * Where live connections are kept: keys with a TTL in Redis (shared by every instance), or
 * memory. Each change reads the status before and after it in one atomic step (one Redis
 * round trip), so of many connections of one user opening at once exactly one sees
 * offline → online, and one presence event goes out, not one per connection.
 */
interface PresenceStore {
  /** Adds or refreshes `connId`, live until `expiresAt` (ms since the epoch). */
  touch(userId: string, connId: string, expiresAt: number, now: number): Promise<Change>;
  /** Refreshes `connId` without reading the status (a heartbeat). */
  refresh(userId: string, connId: string, expiresAt: number): Promise<void>;
  drop(userId: string, connId: string, now: number): Promise<Change>;
  setIdle(userId: string, idle: boolean, ttlMs: number, now: number): Promise<Change>;
  status(userId: string, now: number): Promise<PresenceStatus>;
}

/**
 * The status of a user, with the expired connections dropped first (KEYS[1]: the sorted
 * set of connections scored by expiry, KEYS[2]: the idle flag; ARGV[1]: now in ms).
 */
const STATUS_LUA = `
local function status()
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[1]) == 0 then return 'offline' end
  if redis.call('EXISTS', KEYS[2]) == 1 then return 'idle' end
  return 'online'
end
`;
/** ARGV[2]: the operation; ARGV[3..]: its arguments. Returns { before, after }. */
const CHANGE_LUA = `${STATUS_LUA}
local op = ARGV[2]
if op == 'status' then return status() end
local before = status()
if op == 'touch' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
elseif op == 'drop' then
  redis.call('ZREM', KEYS[1], ARGV[3])
elseif op == 'idle' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
elseif op == 'back' then
  redis.call('DEL', KEYS[2])
end
return { before, status() }
`;
/** The client with CHANGE_LUA as a command (ioredis defineCommand: EVALSHA, EVAL once when the server does not know the script), as src/infra/ratelimit.ts defines its own. */
type WithChange = Redis & { guildhallPresenceChange(connsKey: string, idleKey: string, ...args: (string | number)[]): Promise<unknown> };

class RedisPresenceStore implements PresenceStore {
  private readonly redis: WithChange;
  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = redis as WithChange;
    if (typeof this.redis.guildhallPresenceChange !== 'function') this.redis.defineCommand('guildhallPresenceChange', { numberOfKeys: 2, lua: CHANGE_LUA });
  }
  private conns = (u: string) => `${this.prefix}presence:conns:${u}`;
  private idle = (u: string) => `${this.prefix}presence:idle:${u}`;

  /** Runs CHANGE_LUA on the user's two keys. */
  private run(userId: string, args: (string | number)[]): Promise<unknown> {
    return this.redis.guildhallPresenceChange(this.conns(userId), this.idle(userId), ...args);
  }
  private async change(userId: string, args: (string | number)[]): Promise<Change> {
    const [before, after] = (await this.run(userId, args)) as [PresenceStatus, PresenceStatus];
    return { before, after };
  }
  touch(userId: string, connId: string, expiresAt: number, now: number) {
    return this.change(userId, [now, 'touch', connId, expiresAt, PRESENCE_TTL_MS * 2]);
  }
  async refresh(userId: string, connId: string, expiresAt: number) {
    await this.redis.multi().zadd(this.conns(userId), expiresAt, connId).pexpire(this.conns(userId), PRESENCE_TTL_MS * 2).exec();
  }
  drop(userId: string, connId: string, now: number) {
    return this.change(userId, [now, 'drop', connId]);
  }
  setIdle(userId: string, idle: boolean, ttlMs: number, now: number) {
    return this.change(userId, idle ? [now, 'idle', ttlMs] : [now, 'back']);
  }
  async status(userId: string, now: number) {
    return (await this.run(userId, [now, 'status'])) as PresenceStatus;
  }
}

class MemoryPresenceStore implements PresenceStore {
  private readonly conns = new Map<string, Map<string, number>>();
  private readonly idleUntil = new Map<string, number>();
  private statusOf(userId: string, now: number): PresenceStatus {
    const m = this.conns.get(userId);
    if (m) for (const [c, exp] of m) if (exp <= now) m.delete(c);
    if (!m || m.size === 0) {
      this.conns.delete(userId);
      return 'offline';
    }
    return (this.idleUntil.get(userId) ?? 0) > now ? 'idle' : 'online';
  }
  private change(userId: string, now: number, apply: () => void): Change {
    const before = this.statusOf(userId, now);
    apply();
    return { before, after: this.statusOf(userId, now) };
  }
  async touch(userId: string, connId: string, expiresAt: number, now: number) {
    return this.change(userId, now, () => void this.refreshNow(userId, connId, expiresAt));
  }
  async refresh(userId: string, connId: string, expiresAt: number) {
    this.refreshNow(userId, connId, expiresAt);
  }
  private refreshNow(userId: string, connId: string, expiresAt: number) {
    let m = this.conns.get(userId);
    if (!m) this.conns.set(userId, (m = new Map()));
    m.set(connId, expiresAt);
  }
  async drop(userId: string, connId: string, now: number) {
    return this.change(userId, now, () => void this.conns.get(userId)?.delete(connId));
  }
  async setIdle(userId: string, idle: boolean, ttlMs: number, now: number) {
    return this.change(userId, now, () => void (idle ? this.idleUntil.set(userId, now + ttlMs) : this.idleUntil.delete(userId)));
  }
  async status(userId: string, now: number) {
    return this.statusOf(userId, now);
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

  /** The status of each user (one Redis round trip per user, sent together). */
  async status(userIds: readonly string[]): Promise<PresenceEvent[]> {
    const now = Date.now();
    return Promise.all(userIds.map(async (userId) => ({ userId, status: await this.store.status(userId, now) })));
  }

  /**
   * A connection opened (one Redis round trip; the presence event only when the user was
   * offline). Also usable as a heartbeat that tells a change, but `heartbeat` is cheaper.
   */
  async connected(userId: string, connId: string): Promise<void> {
    const now = Date.now();
    await this.changed(userId, await this.store.touch(userId, connId, now + PRESENCE_TTL_MS, now));
  }

  /** Keeps a live connection counted (one Redis command; call every ~20 s). */
  async heartbeat(userId: string, connId: string): Promise<void> {
    await this.store.refresh(userId, connId, Date.now() + PRESENCE_TTL_MS);
  }

  /** A connection closed (one Redis round trip; the presence event only when it was the user's last). */
  async disconnected(userId: string, connId: string): Promise<void> {
    await this.changed(userId, await this.store.drop(userId, connId, Date.now()));
  }

  /** The client reports the user idle (away from keyboard) or back. */
  async setIdle(userId: string, idle: boolean): Promise<PresenceEvent> {
    const c = await this.store.setIdle(userId, idle, PRESENCE_TTL_MS * 10, Date.now());
    await this.changed(userId, c);
    return { userId, status: c.after };
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

  /** Publishes the user's new status when the change altered it. */
  private async changed(userId: string, c: Change) {
    if (c.before !== c.after) await this.bus.publish(`presence:${userId}`, JSON.stringify({ userId, status: c.after } satisfies PresenceEvent));
  }
}
