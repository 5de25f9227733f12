import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { MemoryBus, RedisBus, type Bus } from './infra/bus.js';
import { MemoryCache, RedisCache, type Cache } from './infra/cache.js';
import { openRedis } from './infra/redis.js';
import { AuthService } from './auth/service.js';
import { ScopeService } from './scopes/service.js';
import { MemberService } from './members/service.js';
import { MessageService } from './messages/service.js';
import { ScopeHub } from './realtime/hub.js';

/**
 * Everything one server instance runs on: adapters and domain services. Procedures reach
 * it through the base middleware (src/trpc.ts), never through the root context, so the
 * exported router type carries none of these types.
 */
export interface Services {
  config: Config;
  log: Logger;
  database: Database;
  redis: Redis | null;
  cache: Cache;
  bus: Bus;
  hub: ScopeHub;
  auth: AuthService;
  scopes: ScopeService;
  members: MemberService;
  messages: MessageService;
}

/** The opaque handle of a server instance that travels in the tRPC context. */
export interface AppHandle {
  readonly instanceId: string;
}

const registry = new Map<string, Services>();

/** Resolves the services of the instance a request arrived on. */
export function servicesOf(app: AppHandle): Services {
  const s = registry.get(app.instanceId);
  if (!s) throw new Error(`server instance ${app.instanceId} is closed`);
  return s;
}

/**
 * Opens the database (and Redis when configured), runs the migrations under the
 * advisory lock, and builds the services. Returns the handle and a function that
 * closes everything it opened.
 */
export async function openServices(config: Config, log: Logger): Promise<{ app: AppHandle; services: Services; close: () => Promise<void> }> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await database.migrate();
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  const redis = config.redisUrl ? openRedis(config.redisUrl) : null;
  const cache: Cache = redis ? new RedisCache(redis, config.redisPrefix) : new MemoryCache();
  const bus: Bus = redis ? new RedisBus(redis, config.redisPrefix) : new MemoryBus();
  if (redis) await redis.ping();
  const db = database.db;
  const hub = new ScopeHub(bus, log);
  await hub.start();
  const scopes = new ScopeService(db);
  const services: Services = {
    config,
    log,
    database,
    redis,
    cache,
    bus,
    hub,
    auth: new AuthService(db, cache, config.sessionTtlMs),
    scopes,
    members: new MemberService(db, scopes),
    messages: new MessageService(db),
  };
  const app: AppHandle = { instanceId: randomUUID() };
  registry.set(app.instanceId, services);
  return {
    app,
    services,
    async close() {
      registry.delete(app.instanceId);
      await hub.stop().catch(() => {});
      await bus.close().catch(() => {});
      if (cache instanceof MemoryCache) cache.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await database.close();
    },
  };
}
