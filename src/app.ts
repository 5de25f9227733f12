import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { limits, type Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { MemoryBus, RedisBus, type Bus } from './infra/bus.js';
import { MemoryCache, RedisCache, type Cache } from './infra/cache.js';
import { openRedis, redactUrl } from './infra/redis.js';
import { AuthService, type CachedSession } from './auth/service.js';
import { SessionWatch } from './auth/session-watch.js';
import { SessionCache } from './auth/session-cache.js';
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
import { SeqReads } from './realtime/seq-reads.js';
import { TypingService } from './realtime/typing.js';
import { PresenceService } from './realtime/presence.js';
import { latestSeqs } from './messages/log.js';
import { latestUserSeqs } from './realtime/user-log.js';
import { WireEvent } from './realtime/wire.js';
import { isPersonal } from './realtime/personal.js';
import { AccessService } from './permissions/service.js';
import { OverwriteService } from './permissions/overwrites.js';
import { RoleService } from './roles/service.js';
import { InviteService } from './invites/service.js';
import { ModerationService } from './moderation/service.js';
import { AuditService } from './audit/service.js';
import { DmService } from './dms/service.js';
import { EventReads } from './events/reads.js';
import { CalendarFeedService } from './events/feed.js';
import { IcsImportService } from './events/import.js';
import { EventService } from './events/service.js';
import { RsvpService } from './events/rsvp.js';
import { ReminderService } from './events/reminders.js';
import { Metrics } from './ops/metrics.js';
import { openStorage, type Storage } from './infra/storage.js';
import { MediaService } from './media/service.js';
import { MediaCleanup } from './media/cleanup.js';
import { PollService } from './polls/service.js';
import { LiveResults } from './polls/live.js';
import { PollScheduler } from './polls/scheduler.js';
import { loadVoterKey } from './polls/voter-key.js';
import { SurveyService } from './surveys/service.js';

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
  /** Batched reads of the last seq of conversations and user streams (a subscription's start). */
  seqs: { scope: SeqReads; user: SeqReads };
  typing: TypingService;
  presence: PresenceService;
  auth: AuthService;
  /** Sessions resolved on this instance, kept for 5 s; a sign-out anywhere drops them (src/auth/session-cache.ts). */
  sessionCache: SessionCache<CachedSession>;
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
  /** Prometheus metrics of this instance (`/metrics`). */
  metrics: Metrics;
  /** Object storage: S3/MinIO, or the embedded s3rver. */
  storage: Storage;
  /** Files and media: uploads, the pipeline's claim and completion, downloads, avatars, icons. */
  media: MediaService;
  /** The one media cleanup job (deleted messages' files, expired uploads). */
  mediaCleanup: MediaCleanup;
  calendarFeeds: CalendarFeedService;
  icsImport: IcsImportService;
  /** Polls carried by messages; live results through `liveResults`; closes by `pollScheduler`. */
  polls: PollService;
  /** Surveys carried by messages, on the same live results and scheduler as polls. */
  surveys: SurveyService;
  liveResults: LiveResults;
  pollScheduler: PollScheduler;
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
  if (!config.databaseUrl) {
    const where = config.dataDir === 'memory://' ? 'memory' : path.resolve(config.dataDir);
    log.info({ dataDir: where }, `opening the embedded database (PGlite) in ${where}; a new directory takes several seconds to initialise`);
  }
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
    // The sweep's repair: one read per conversation, flagged as the publishers flag it.
    async (scopeId, after, limit) => (await messages.eventsAfter(scopeId, after, limit)).map((e) => WireEvent.of(e, isPersonal(e))),
  );
  await hub.start();
  const sessionWatch = new SessionWatch(bus, log);
  await sessionWatch.start();
  const sessionCache = new SessionCache<CachedSession>(bus, limits.sessionLocalCacheMs, limits.sessionLocalCacheMax);
  await sessionCache.start();
  const access = new AccessService(db, cache, hub, log);
  const scopes = new ScopeService(db, access);
  const members = new MemberService(db, access, hub);
  // The messages domain's flag checks go through the permission helper.
  const messageAccess: MessageAccess = access;
  const messages = new MessageService(
    db,
    messageAccess,
    createRateLimit({ redis, prefix: config.redisPrefix, name: 'send', what: 'messages', ...config.messageSendRate }),
  );
  const eventReads = new EventReads(db, access);
  const rsvps = new RsvpService(db, eventReads, hub);
  const reminders = new ReminderService(db, access, eventReads, hub, log, config.events.reminderPollMs);
  const events = new EventService(db, access, eventReads, hub, rsvps, reminders);
  const storage = await openStorage(config);
  const voterKey = await loadVoterKey({ voterKey: config.polls.voterKey, dataDir: config.dataDir, serviceMode: !!config.databaseUrl, log });
  const liveResults = new LiveResults(database.background, hub, log, limits.resultsEventIntervalMs);
  const media = new MediaService(db, storage, access, hub, config.media, log);
  const polls = new PollService(db, access, hub, messages, voterKey, () => liveResults);
  liveResults.register('poll', polls);
  const surveys = new SurveyService(db, access, hub, messages, voterKey, () => liveResults);
  liveResults.register('survey', surveys);
  const pollScheduler = new PollScheduler([polls, surveys], liveResults, log, config.polls.closePollMs);
  const services: Services = {
    config,
    log,
    database,
    redis,
    cache,
    bus,
    hub,
    seqs: { scope: new SeqReads((ids) => latestSeqs(db, ids)), user: new SeqReads((ids) => latestUserSeqs(db, ids)) },
    typing: new TypingService(bus, cache),
    presence: new PresenceService(bus, redis, config.redisPrefix),
    sessionCache,
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
      sessionWatch,
      sessionCache,
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
    metrics: new Metrics({ fanout: hub.stats, dbPool: () => database.poolStats(), remindersFired: () => reminders.fired }),
    storage,
    media,
    mediaCleanup: new MediaCleanup(db, storage, log, { pendingExpiryMs: config.media.pendingExpiryMs, everyMs: config.media.cleanupMs }, media),
    calendarFeeds: new CalendarFeedService(db, access, eventReads),
    icsImport: new IcsImportService(events),
    polls,
    surveys,
    liveResults,
    pollScheduler,
  };
  reminders.start();
  pollScheduler.start();
  services.mediaCleanup.start();
  const app: AppHandle = { instanceId: randomUUID() };
  registry.set(app.instanceId, services);
  return {
    app,
    services,
    async close() {
      registry.delete(app.instanceId);
      await reminders.stop();
      await pollScheduler.stop();
      await liveResults.stop();
      await services.mediaCleanup.stop();
      await storage.close();
      await hub.stop().catch(() => {});
      await sessionWatch.stop().catch(() => {});
      await sessionCache.stop().catch(() => {});
      await bus.close().catch(() => {});
      if (cache instanceof MemoryCache) cache.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await database.close();
    },
  };
}
