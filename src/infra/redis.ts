import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** `url` without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an unparsable URL';
  }
}

/**
 * Opens the shared Redis connection. Commands fail fast while Redis is down
 * (no unbounded offline queue) and the client reconnects by itself. Commands issued in
 * one tick go out in one write (auto-pipelining): the publishes, rate-limit and cache
 * reads of concurrent calls share round trips. With `log`, the loss of the connection is
 * logged when it happens (warn) and its return (info), once each.
 */
export function openRedis(url: string, log?: Logger, name = 'redis'): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: false,
    enableAutoPipelining: true,
  });
  let up = false;
  let lastError: string | undefined;
  redis.on('error', (err: Error) => {
    lastError = err.message; // surfaced through /readyz and failed commands; logged once on close
  });
  redis.on('ready', () => {
    if (!up && lastError !== undefined) log?.info({ redis: redactUrl(url) }, `${name} reconnected`);
    up = true;
  });
  redis.on('close', () => {
    if (up) log?.warn({ redis: redactUrl(url), err: lastError }, `${name} disconnected; its commands fail until it is back (REDIS_URL)`);
    up = false;
    lastError ??= 'connection closed';
  });
  return redis;
}
