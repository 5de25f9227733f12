import { Redis } from 'ioredis';

/**
 * Opens the shared Redis connection. Commands fail fast while Redis is down
 * (no unbounded offline queue) and the client reconnects by itself.
 */
export function openRedis(url: string): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: false,
  });
  redis.on('error', () => {}); // surfaced through /readyz and failed commands
  return redis;
}
