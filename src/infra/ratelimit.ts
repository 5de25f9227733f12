import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { rateLimited } from '../errors.js';

/** A fixed-window limit on one action, keyed by who does it. */
export interface RateLimit {
  /**
   * Takes one point for `key`.
   * @throws RateLimited (TOO_MANY_REQUESTS) with "try again in N s" when the window is used up.
   */
  consume(key: string): Promise<void>;
  /** Gives back one point taken by `consume` (an action that turned out not to happen). */
  refund(key: string): Promise<void>;
}

/**
 * A rate limit with rate-limiter-flexible: RateLimiterRedis when `redis` is given (shared
 * by every instance), else RateLimiterMemory (one process, the embedded mode).
 * @param name the action, part of the key and of the refusal ("too many messages").
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
  const limiter: RateLimiterAbstract = opts.redis
    ? new RateLimiterRedis({ storeClient: opts.redis, keyPrefix, points: opts.points, duration: opts.durationSec })
    : new RateLimiterMemory({ keyPrefix, points: opts.points, duration: opts.durationSec });
  return {
    async consume(key) {
      try {
        await limiter.consume(key, 1);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
          throw rateLimited(
            `too many ${opts.what}: at most ${opts.points} per ${opts.durationSec} s; try again in ${seconds} s (retry-after: ${seconds})`,
          );
        }
        throw err; // Redis failure: not the caller's fault, surfaces as an internal error
      }
    },
    async refund(key) {
      await limiter.reward(key, 1);
    },
  };
}
