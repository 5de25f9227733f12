import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { limits, type Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { MemoryBus, RedisBus, type Bus } from './infra/bus.js';
import { MemoryCache, RedisCache, type Cache } from './infra/cache.js';
import { openRedis, redactUrl } from './infra/redis.js';
import { AuthService } from './auth/service.js';
import { LoginProtection } from './auth/login-protection.js';
import { HashQueue } from './auth/hash-queue.js';
import { ScopeService } from './scopes/service.js';
import { MemberService } from './members/service.js';
import { MessageService } from './messages/service.js';
import type { MessageAccess } from './messages/access.js';
import { ReactionService } from './messages/reactions.js';
import { PinService } from './messages/pins.js';
import { ReadStateService } from './readstate/service.js';
import { createRateLimit } from './infra/ratelimit.js';
import { ScopeHub } from './realtime/hub.js';
import { TypingService } from './realtime/typing.js';
import { PresenceService } from './realtime/presence.js';
import { latestSeqs } from './messages/log.js';
import { latestUserSeqs } from './realtime/user-log.js';
import { AccessService } from './permissions/service.js';
import { OverwriteService } from './permissions/overwrites.js';
import { RoleService } from './roles/service.js';
import { InviteService } from './invites/service.js';
import { ModerationService } from './moderation/service.js';
import { AuditService } from './audit/service.js';
import { DmService } from './dms/service.js';
import { EventService } from './events/service.js';
import { RsvpService } from './events/rsvp.js';
import { ReminderService } from './events/reminders.js';

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
  typing: TypingService;
  presence: PresenceService;
  auth: AuthService;
  scopes: ScopeService;
  members: MemberService;
  messages: MessageService;
  reactions: ReactionService;
  pins: PinService;
  readStates: ReadStateService;
  /** The one permission helper: `access.require(userId, scopeId, flags)`. */
  access: AccessService;
  overwrites: OverwriteService;
  roles: RoleService;
  invites: InviteService;
  moderation: ModerationService;
  audit: AuditService;
  dms: DmService;
  /** Calendar events: series, instances, overrides, splits, iCalendar. */
  events: EventService;
  rsvps: RsvpService;
  /** Reminders and their scheduler (polls every `config.events.reminderPollMs`). */
  reminders: ReminderService;
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
  const redis = config.redisUrl ? openRedis(config.redisUrl, log) : null;
  const cache: Cache = redis ? new RedisCache(redis, config.redisPrefix) : new MemoryCache();
  const bus: Bus = redis ? new RedisBus(redis, config.redisPrefix) : new MemoryBus();
  if (redis) {
    await redis.ping().catch(async (err: Error) => {
      await bus.close().catch(() => {});
      redis.disconnect();
      await database.close().catch(() => {});
      throw new Error(`cannot reach Redis at REDIS_URL=${redactUrl(config.redisUrl!)}: ${err.message}`);
    });
  }
  const db = database.db;
  const hub = new ScopeHub(
    bus,
    log,
    (kind, ids) => (kind === 'scope' ? latestSeqs(db, ids) : latestUserSeqs(db, ids)),
    config.realtime.sweepMs,
  );
  await hub.start();
  const scopes = new ScopeService(db);
  const access = new AccessService(db, cache, hub, log);
  scopes.useAccess(access);
  const members = new MemberService(db, access, hub);
  // The messages domain's flag checks go through the permission helper.
  const messageAccess: MessageAccess = access;
  const messages = new MessageService(
    db,
    messageAccess,
    createRateLimit({ redis, prefix: config.redisPrefix, name: 'send', what: 'messages', ...config.messageSendRate }),
  );
  const rsvps = new RsvpService(db, hub);
  const reminders = new ReminderService(db, access, hub, log, config.events.reminderPollMs);
  const events = new EventService(db, access, hub, rsvps, reminders);
  rsvps.useEvents(events);
  reminders.useEvents(events);
  const services: Services = {
    config,
    log,
    database,
    redis,
    cache,
    bus,
    hub,
    typing: new TypingService(bus, cache),
    presence: new PresenceService(bus, redis, config.redisPrefix),
    auth: new AuthService(
      db,
      cache,
      config.sessionTtlMs,
      new LoginProtection(
        { redis, prefix: config.redisPrefix },
        {
          consecutive: { points: config.signInRate.points, blockSec: config.signInRate.durationSec },
          perIpPerDay: config.guard.signInIpFailuresPerDay,
          perEmailPerDay: config.guard.signInEmailFailuresPerDay,
        },
      ),
      new HashQueue(limits.passwordHashConcurrency, limits.passwordHashQueueMax),
    ),
    scopes,
    members,
    messages,
    reactions: new ReactionService(db, messages, messageAccess),
    pins: new PinService(db, messages, messageAccess),
    readStates: new ReadStateService(db, scopes),
    access,
    overwrites: new OverwriteService(db, access),
    roles: new RoleService(db, access),
    invites: new InviteService(db, access, members, scopes, hub),
    moderation: new ModerationService(db, access, members, messages, hub),
    audit: new AuditService(db, access),
    dms: new DmService(db, members, hub),
    events,
    rsvps,
    reminders,
  };
  reminders.start();
  const app: AppHandle = { instanceId: randomUUID() };
  registry.set(app.instanceId, services);
  return {
    app,
    services,
    async close() {
      registry.delete(app.instanceId);
      await reminders.stop();
      await hub.stop().catch(() => {});
      await bus.close().catch(() => {});
      if (cache instanceof MemoryCache) cache.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await database.close();
    },
  };
}
