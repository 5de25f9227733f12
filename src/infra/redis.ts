import { Redis } from 'ioredis';

/**
 * Opens the shared Redis connection. Commands fail fast while Redis is down
 * (no unbounded offline queue) and the client reconnects by itself. Commands issued in
 * one tick go out in one write (auto-pipelining): the publishes, rate-limit and cache
 * reads of concurrent calls share round trips.
 */
export function openRedis(url: string): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: false,
    enableAutoPipelining: true,
  });
  redis.on('error', () => {}); // surfaced through /readyz and failed commands
  return redis;
}
