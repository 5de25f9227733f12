import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from '../errors.js';
import { setBounded } from './local-cache.js';

/** A fixed-window limit on one action, keyed by who does it. */
export interface RateLimit {
  /**
   * Takes one point for `key`: the one `reserveNext` took ahead when this instance holds
   * it, else one from the store.
   * @throws RateLimited (TOO_MANY_REQUESTS) with "try again in N s" when the window is used up.
   */
  consume(key: string): Promise<void>;
  /** Gives back one point taken by `consume` (an action that turned out not to happen). */
  refund(key: string): Promise<void>;
  /**
   * Takes, now, the point of `key`'s next action, so that `consume` then answers from
   * memory. Call it once an action is done, in the same tick as that action's own Redis
   * command (the send's publish): auto-pipelining sends both in one write, and the next
   * action waits on one Redis round trip less. Nothing is awaited and nothing thrown; a
   * refused or failed reservation leaves the next `consume` to ask the store. At most one
   * point is held ahead per key and instance, and only until its window ends. A no-op in
   * memory (the embedded mode), where a point costs no round trip.
   */
  reserveNext(key: string): void;
}

/**
 * The window's counter, as rate-limiter-flexible's RateLimiterRedis keeps it (same key,
 * same value), so instances of either version share it: created at 0 with the window's
 * expiry unless it exists, incremented by ARGV[1] (-1 gives a point back), and returned
 * with the ms left in the window.
 */
const INCR_SCRIPT = `redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local consumed = redis.call('incrby', KEYS[1], ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('expire', KEYS[1], ARGV[2])
  ttl = 1000 * ARGV[2]
end
return {consumed, ttl}`;

/** The client with the script's command (ioredis defineCommand: EVALSHA, EVAL once when the script is not loaded). */
type WithIncr = Redis & { guildhallRateIncr(key: string, points: string, seconds: string): Promise<[number, number]> };

/** Keys holding a point taken ahead, per limit and instance (the oldest are dropped past it). */
const RESERVED_MAX = 100_000;
/** A reservation whose answer has not come yet. */
const PENDING = -1;

/**
 * A rate limit: in Redis when `redis` is given (one counter per key and window, shared by
 * every instance; the script above, one command per point), else with
 * rate-limiter-flexible's RateLimiterMemory (one process, the embedded mode).
 * @param name the action, part of the key; @param what its plural in the refusal ("too many messages").
 * @param points actions per window; @param durationSec the window (seconds).
 */
export function createRateLimit(opts: {
  redis: Redis | null;
  prefix: string;
  name: string;
  what: string;
  points: number;
  durationSec: number;
}): RateLimit {
  const keyPrefix = `${opts.prefix}rl:${opts.name}`;
  const refusal = (msBeforeNext: number) => {
    const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
    return rateLimited(`too many ${opts.what}: at most ${opts.points} per ${opts.durationSec} s; try again in ${seconds} s (retry-after: ${seconds})`);
  };
  if (!opts.redis) {
    const limiter = new RateLimiterMemory({ keyPrefix, points: opts.points, duration: opts.durationSec });
    return {
      async consume(key) {
        try {
          await limiter.consume(key, 1);
        } catch (err) {
          throw err instanceof RateLimiterRes ? refusal(err.msBeforeNext) : err;
        }
      },
      async refund(key) {
        await limiter.reward(key, 1);
      },
      reserveNext() {},
    };
  }
  const redis = opts.redis as WithIncr;
  if (typeof redis.guildhallRateIncr !== 'function') redis.defineCommand('guildhallRateIncr', { numberOfKeys: 1, lua: INCR_SCRIPT });
  const seconds = String(opts.durationSec);
  /** Key → until when (ms since the epoch) the point taken ahead is good, or PENDING. */
  const reserved = new Map<string, number>();
  return {
    async consume(key) {
      const until = reserved.get(key);
      if (until !== undefined && until !== PENDING) {
        reserved.delete(key);
        if (until > Date.now()) return;
      }
      const [consumed, ttl] = await redis.guildhallRateIncr(`${keyPrefix}:${key}`, '1', seconds);
      // Redis failure: thrown as is, not the caller's fault (an internal error).
      if (consumed > opts.points) throw refusal(ttl);
    },
    async refund(key) {
      await redis.guildhallRateIncr(`${keyPrefix}:${key}`, '-1', seconds);
    },
    reserveNext(key) {
      if (reserved.has(key)) return;
      // The window ends `ttl` ms after Redis ran the script, which is after this moment.
      const askedAt = Date.now();
      setBounded(reserved, key, PENDING, RESERVED_MAX);
      redis.guildhallRateIncr(`${keyPrefix}:${key}`, '1', seconds).then(
        ([consumed, ttl]) => {
          if (reserved.get(key) !== PENDING) return;
          if (consumed <= opts.points && ttl > 0) reserved.set(key, askedAt + ttl);
          else reserved.delete(key);
        },
        () => {
          if (reserved.get(key) === PENDING) reserved.delete(key);
        },
      );
    },
  };
}
