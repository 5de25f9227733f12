import { z } from 'zod';
import { EMBEDDED_DEFAULT_ORIGINS, OriginListError, parseOriginList } from './http/origins.js';

/**
 * Limits in one place. Every input schema and service reads its bounds from here,
 * so a limit is changed once. Lengths are in characters, sizes in bytes, times in ms.
 */
export const limits = {
  emailMax: 254,
  passwordMin: 8,
  passwordMax: 200,
  displayNameMax: 64,
  scopeNameMax: 100,
  messageBodyMax: 4_000,
  nonceMax: 64,
  pageMax: 100,
  /**
   * Instances one `events.instances` page may hold: 2,500, Google Calendar's own cap on
   * `events.list` `maxResults`, so a client walking a year of a busy calendar needs few pages.
   */
  instancesPageMax: 2_500,
  /** The page size of `events.instances` when the call gives no `limit`: 250, Google Calendar's default `maxResults`. */
  instancesPageDefault: 250,
  /** Largest WebSocket frame the server accepts (bytes). */
  wsMaxPayloadBytes: 256 * 1024,
  /** Largest HTTP request body the server accepts (bytes). */
  httpMaxBodyBytes: 1024 * 1024,
  /** Open WebSocket connections one user may hold at once. */
  wsConnectionsPerUser: 20,
  /**
   * Open WebSocket connections without a session (anonymous, or waiting for their
   * connectionParams, at most WS_AUTH_TIMEOUT_MS) one client address may hold at once:
   * room for an office or carrier NAT connecting at the same moment.
   */
  wsAnonymousPerAddress: 256,
  /** Open subscriptions one WebSocket connection may hold at once. */
  wsSubscriptionsPerSocket: 200,
  /** Events replayed per database page while a subscriber catches up. */
  replayPageSize: 500,
  /** A resume further behind than this is told to refetch instead of replayed. */
  replayMaxEvents: 5_000,
  /** Bytes a socket may have buffered before it is dropped as a slow reader. */
  wsMaxBufferedBytes: 4 * 1024 * 1024,

  // ---- messages (reactions, pins, mentions, search, read state)
  /** Distinct users, roles and @everyone one message may mention (Discord caps mass mentions too). */
  mentionsPerMessageMax: 20,
  /** Distinct emoji on one message (Discord: 20). */
  reactionsPerMessageMax: 20,
  /** Longest emoji string: a Unicode emoji sequence or a `:custom_name:`. */
  reactionEmojiMax: 64,
  /**
   * Users a read shows per emoji (`reactions[].userIds`, the first to react); the count and
   * `me` cover all of them, and `reactions.users` pages through the rest. Fixed in the
   * summary trigger (drizzle/0052_reaction_counts.sql) as well.
   */
  reactionUsersShown: 3,
  /** Pinned messages one scope may hold (Discord: 50). */
  pinsPerScopeMax: 50,
  /** Messages one user may send, over all scopes, per window: the default of MESSAGE_SEND_RATE. */
  messageSendRate: { points: 20, durationSec: 10 },
  /** Failed sign-ins per email per window: the default of SIGN_IN_RATE (points/seconds). */
  signInRate: { points: 10, durationSec: 300 },
  /** Calls in one batched HTTP request or WebSocket frame. */
  batchMax: 50,

  // ---- hardening (src/guard, src/auth/login-protection.ts, src/auth/hash-queue.ts)
  /** Failed sign-ins per client address per day (SIGN_IN_IP_FAILURES_PER_DAY). */
  signInIpFailuresPerDay: 100,
  /** Failed sign-ins per email per day, over all addresses (SIGN_IN_EMAIL_FAILURES_PER_DAY). */
  signInEmailFailuresPerDay: 1_000,
  /** Password hashes (scrypt) running at once, and waiting; past both: TOO_MANY_REQUESTS. */
  passwordHashConcurrency: 2,
  passwordHashQueueMax: 32,
  /** A socket opened with connectionParams must send them within this long (ms). */
  wsAuthTimeoutMs: 10_000,
  /** Open HTTP (SSE) subscriptions one user may hold on one instance. */
  sseSubscriptionsPerUser: 50,
  /** Longest search query (characters). */
  searchQueryMax: 200,
  /** Scopes one `readState.get` may ask about. */
  readStateScopesMax: 500,

  // ---- governance (scopes, roles, invites, moderation). The first two are also
  // constants in the triggers (drizzle/0001_scope_path_trigger.sql and
  // drizzle/0006_governance_triggers.sql); test/governance/triggers.test.ts holds them equal.
  /** Levels a scope tree may have, community included (depth 0..5). */
  scopeMaxDepth: 6,
  /** Live children one scope may hold. */
  scopeMaxChildren: 500,
  scopeDescriptionMax: 1_000,
  /** Keys in a scope's `settings`, and the longest key and string value. */
  scopeSettingsMaxKeys: 50,
  scopeSettingsKeyMax: 64,
  scopeSettingsValueMax: 500,
  /** Nodes `scopes.tree` returns at most. */
  treeMaxNodes: 2_000,
  roleNameMax: 100,
  /** Custom roles one community or group may define. */
  rolesPerScopeMax: 250,
  /** Custom role positions run 1..rolePositionMax; everyone is 0, the built-in admin role sits above all. */
  rolePositionMax: 999_999,
  adminRolePosition: 1_000_000,
  /** Uses one invite may allow, and how far ahead it may expire (ms). */
  inviteMaxUses: 10_000,
  inviteMaxLifetimeMs: 90 * 24 * 3_600_000,
  inviteCodeMax: 64,
  /** People in a direct conversation, the caller included. */
  dmMaxMembers: 10,
  /** Longest timeout (ms): 28 days, as Discord. */
  timeoutMaxMs: 28 * 24 * 3_600_000,
  /** How far back a ban may purge the banned member's messages (seconds): 7 days, as Discord. */
  banPurgeMaxSeconds: 7 * 24 * 3_600,
  banReasonMax: 500,
  /** How long an effective-permissions answer stays cached (ms); the perm_version key makes it exact anyway. */
  permCacheTtlMs: 10 * 60_000,
  /** How long a resolved session is kept in process (ms); a sign-out on any instance drops it at once (src/auth/session-cache.ts). */
  sessionLocalCacheMs: 5_000,
  /** At most this many sessions kept in process. */
  sessionLocalCacheMax: 50_000,

  // ---- calendar events (recurrence limits live in src/events/recurrence/limits.ts)
  eventTitleMax: 200,
  eventDescriptionMax: 4_000,
  eventLocationMax: 500,
  /** Seats per RSVP target (the series, or one instance). */
  eventCapacityMax: 100_000,
  /** Reminders one user may set on one event, and how far ahead of an instance (minutes: 28 days, as Google Calendar). */
  eventRemindersMax: 5,
  eventReminderMinutesMax: 40_320,
  /** How far ahead the reminder scheduler expands a series to find the next instance (ms). */
  eventReminderLookaheadMs: 400 * 24 * 3_600_000,
  /** Due reminders one scheduler tick claims at most. */
  eventReminderBatch: 100,
  /** Series one `events.instances` or `events.ics` over a scope looks at, at most. */
  eventSeriesPerListingMax: 2_000,
  /** Overrides one series may hold (moved, edited or cancelled instances). */
  eventOverridesMax: 1_000,

  // ---- media (src/media, src/lambda/media.ts); the sizes and quotas are defaults of MEDIA_* variables
  /** Largest image upload (bytes): the default of MEDIA_IMAGE_MAX_BYTES (25 MiB). */
  mediaImageMaxBytes: 25 * 1024 * 1024,
  /** Largest other file (bytes): the default of MEDIA_FILE_MAX_BYTES (100 MiB). */
  mediaFileMaxBytes: 100 * 1024 * 1024,
  /** Uploads one user may have waiting for the pipeline at once: the default of MEDIA_PENDING_MAX. */
  mediaPendingMax: 10,
  /** Bytes one user may declare in uploads per 24 h: the default of MEDIA_DAILY_BYTES (2 GiB). */
  mediaDailyBytes: 2 * 1024 * 1024 * 1024,
  /** sharp's limitInputPixels: the default of MEDIA_LIMIT_INPUT_PIXELS (50 megapixels). */
  mediaLimitInputPixels: 50_000_000,
  /** Attachments on one message (Discord: 10). */
  attachmentsPerMessageMax: 10,
  mediaFilenameMax: 255,
  /** How long a presigned upload (POST policy) stays valid (seconds). */
  mediaUploadUrlTtlSec: 15 * 60,
  /** How long a presigned download stays valid at most (seconds): 5 minutes. */
  mediaDownloadUrlTtlSecMax: 5 * 60,
  /** An upload never attached (message, avatar, icon) is deleted after this (ms): the default of MEDIA_PENDING_EXPIRY_MS. */
  mediaPendingExpiryMs: 24 * 3_600_000,
  /** A pipeline claim older than this may be taken again (a crashed run; ms). */
  mediaClaimLeaseMs: 15 * 60_000,
  /** Attachments the cleanup job deletes per tick at most. */
  mediaCleanupBatch: 100,
  /** Largest .ics `events.importIcs` takes (bytes), and most series in one import. */
  eventIcsImportMaxBytes: 512 * 1024,
  eventIcsImportMaxSeries: 200,
  // ---- polls and surveys (the 20-option cap is also a constant in drizzle/0035_poll_survey_triggers.sql)
  pollQuestionMax: 300,
  /** Options per poll: 2 to 20 (Discord allows 10, Telegram 12). */
  pollOptionsMin: 2,
  pollOptionsMax: 20,
  pollOptionTextMax: 100,
  /** A quiz's explanation (Telegram: 200). */
  pollExplanationMax: 200,
  /** How far ahead closesAt may be (ms): one year. */
  pollClosesAtMaxMs: 366 * 24 * 3_600_000,
  /** Live results of one poll or survey are sent at most once per this window (ms). */
  resultsEventIntervalMs: 250,
  /** Polls and surveys the close scheduler claims per tick. */
  pollCloseBatch: 100,
  surveyTitleMax: 300,
  surveyDescriptionMax: 2_000,
  surveyQuestionsMax: 50,
  surveyPromptMax: 500,
  surveyOptionsMax: 20,
  surveyOtherTextMax: 200,
  surveyScaleMax: 10,
  surveyScaleLabelMax: 50,
  surveyShortTextMax: 500,
  surveyLongTextMax: 5_000,
  /** Responses one results or export call reads at most. */
  surveyResponsesReadMax: 100_000,
} as const;

const optionalUrl = z.url().optional();

/** The environment variables the server reads; every one is optional. */
export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: optionalUrl,
  REDIS_URL: optionalUrl,
  /** Prefix for every Redis key and channel, so several deployments can share one Redis. */
  REDIS_PREFIX: z.string().max(64).default('gh:'),
  S3_ENDPOINT: optionalUrl,
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  SESSION_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 365).default(24 * 30),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Bytes a socket may have buffered before it is dropped as a slow reader (it resumes later). */
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(16 * 1024).max(256 * 1024 * 1024).default(limits.wsMaxBufferedBytes),
  /** A resuming subscriber further behind than this many events is told to refetch. */
  REPLAY_MAX_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(limits.replayMaxEvents),
  /** How often open conversation feeds are compared with the database, repairing lost publishes (ms). */
  REALTIME_SWEEP_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  /** After SIGTERM, how long `/readyz` answers 503 while the instance still serves, before it closes (ms). */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(300_000).default(2_000),
  /** Sign-in attempts per email per window, as `points/seconds`. */
  SIGN_IN_RATE: z
    .string()
    .regex(/^[1-9]\d{0,8}\/[1-9]\d{0,5}$/, 'expected points/seconds, e.g. 10/300')
    .default(`${limits.signInRate.points}/${limits.signInRate.durationSec}`),
  /** How often each instance polls for due event reminders (ms). */
  EVENT_REMINDER_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  /** Messages one user may send per window, as `points/seconds` (default `20/10`). */
  MESSAGE_SEND_RATE: z
    .string()
    .regex(/^[1-9]\d{0,8}\/[1-9]\d{0,5}$/, 'expected points/seconds, e.g. 20/10')
    .default(`${limits.messageSendRate.points}/${limits.messageSendRate.durationSec}`),
  /**
   * Browser origins allowed over HTTP (CORS) and WebSocket (Origin check): comma-separated
   * exact origins, `scheme://host:*` for any port, or `*`. Unset: none in service mode,
   * `http://localhost:*,http://127.0.0.1:*` in embedded mode.
   */
  CORS_ORIGINS: z.string().max(10_000).optional(),
  /** When set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').max(256).optional(),
  /** Media limits (bytes, counts); see `limits.media*`. */
  MEDIA_IMAGE_MAX_BYTES: z.coerce.number().int().min(1).max(5 * 1024 ** 3).default(limits.mediaImageMaxBytes),
  MEDIA_FILE_MAX_BYTES: z.coerce.number().int().min(1).max(5 * 1024 ** 3).default(limits.mediaFileMaxBytes),
  MEDIA_PENDING_MAX: z.coerce.number().int().min(1).max(10_000).default(limits.mediaPendingMax),
  MEDIA_DAILY_BYTES: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(limits.mediaDailyBytes),
  MEDIA_LIMIT_INPUT_PIXELS: z.coerce.number().int().min(1).max(1_000_000_000).default(limits.mediaLimitInputPixels),
  /** How long a presigned download stays valid (seconds, at most 300). */
  MEDIA_DOWNLOAD_TTL_SEC: z.coerce.number().int().min(1).max(limits.mediaDownloadUrlTtlSecMax).default(limits.mediaDownloadUrlTtlSecMax),
  /** An upload never attached is deleted after this (ms; default 24 h). */
  MEDIA_PENDING_EXPIRY_MS: z.coerce.number().int().min(1_000).max(30 * 24 * 3_600_000).default(limits.mediaPendingExpiryMs),
  /** How often the media cleanup job runs (ms). */
  MEDIA_CLEANUP_MS: z.coerce.number().int().min(50).max(3_600_000).default(60_000),
  /** The service token the pipeline handler reports with (media.claim, media.complete); random per process when unset. */
  MEDIA_SERVICE_TOKEN: z.string().min(32, 'must be at least 32 characters').max(512).optional(),
  /**
   * The key of the voter hash of anonymous polls and surveys (at least 32 characters; every
   * instance needs the same one). Unset: a key file under DATA_DIR is used (embedded mode).
   */
  POLL_VOTER_KEY: z.string().min(32, 'must be at least 32 characters (use a random secret)').optional(),
  /** How often each instance looks for polls and surveys to close, and live results to send (ms). */
  POLL_CLOSE_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
  /**
   * Proxies in front of the server whose X-Forwarded-For is believed: 0 (default) uses the
   * socket's peer; N takes the N-th address from the right; `true` means 1, `false` 0.
   */
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2})$/, 'expected the number of proxies in front (0, 1, 2 …), true (1) or false (0)')
    .transform((v) => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v)))
    .default(0),
  /** Failed sign-ins one client address may make per day, over all emails. */
  SIGN_IN_IP_FAILURES_PER_DAY: z.coerce.number().int().min(1).max(1e9).default(limits.signInIpFailuresPerDay),
  /** Failed sign-ins one email may collect per day, over all addresses (a high ceiling). */
  SIGN_IN_EMAIL_FAILURES_PER_DAY: z.coerce.number().int().min(1).max(1e9).default(limits.signInEmailFailuresPerDay),
  /** A WebSocket that has not sent its connectionParams within this long is closed (ms). */
  WS_AUTH_TIMEOUT_MS: z.coerce.number().int().min(10).max(600_000).default(limits.wsAuthTimeoutMs),
});

/** The typed configuration every part of the server is built from. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  redisPrefix: string;
  s3: {
    endpoint: string | undefined;
    bucket: string | undefined;
    region: string;
    accessKeyId: string | undefined;
    secretAccessKey: string | undefined;
  };
  sessionTtlMs: number;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  realtime: { maxBufferedBytes: number; replayMaxEvents: number; sweepMs: number };
  /** After SIGTERM, how long the instance answers `/readyz` 503 while it still serves, before it closes (ms). */
  shutdownDrainMs: number;
  /** Sends one user may make per window (src/infra/ratelimit.ts: Redis when configured, else memory). */
  messageSendRate: { points: number; durationSec: number };
  /** Calendar events: how often the reminder scheduler polls (ms). */
  events: { reminderPollMs: number };
  signInRate: { points: number; durationSec: number };
  /** Allowed browser origins (see CORS_ORIGINS), normalised; `['*']` for every origin. */
  corsOrigins: readonly string[];
  /** The bearer token `/metrics` needs; undefined: open (put it behind your network). */
  metricsToken: string | undefined;
  /** Media uploads and the pipeline (sizes in bytes, times in ms unless named Sec). */
  media: {
    imageMaxBytes: number;
    fileMaxBytes: number;
    pendingMax: number;
    dailyBytes: number;
    limitInputPixels: number;
    downloadTtlSec: number;
    pendingExpiryMs: number;
    cleanupMs: number;
    /** Null: a random token is made per process (embedded pipeline only). */
    serviceToken: string | null;
  };
  /** Polls and surveys: the anonymous-voter key (POLL_VOTER_KEY) and the close scheduler's period (ms). */
  polls: { voterKey: string | undefined; closePollMs: number };
  /** Hardening: proxies trusted for X-Forwarded-For, failed sign-in ceilings, hash and subscription bounds. */
  guard: {
    trustProxy: number;
    signInIpFailuresPerDay: number;
    signInEmailFailuresPerDay: number;
    wsAuthTimeoutMs: number;
  };
}

/** `points/seconds` (already checked by the schema's pattern) as a rate-limiter setting. */
function parseRate(text: string): { points: number; durationSec: number } {
  const [points, durationSec] = text.split('/').map(Number);
  return { points: points!, durationSec: durationSec! };
}

/** Raised for a bad or missing variable; its message is one line naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment into a Config.
 * @throws ConfigError with one line such as `PORT: Too big: expected number to be <=65535`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= npm start`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`invalid environment variable ${issue.path.join('.')}: ${issue.message}`);
  }
  const e = parsed.data;
  const s3Given = [e.S3_ENDPOINT, e.S3_BUCKET].filter(Boolean).length;
  if (s3Given === 1) {
    throw new ConfigError(
      `invalid environment variable ${e.S3_ENDPOINT ? 'S3_BUCKET' : 'S3_ENDPOINT'}: set both S3_ENDPOINT and S3_BUCKET, or neither`,
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    s3: {
      endpoint: e.S3_ENDPOINT,
      bucket: e.S3_BUCKET,
      region: e.S3_REGION,
      accessKeyId: e.S3_ACCESS_KEY_ID,
      secretAccessKey: e.S3_SECRET_ACCESS_KEY,
    },
    sessionTtlMs: e.SESSION_TTL_HOURS * 3_600_000,
    logLevel: e.LOG_LEVEL,
    realtime: { maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES, replayMaxEvents: e.REPLAY_MAX_EVENTS, sweepMs: e.REALTIME_SWEEP_MS },
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    events: { reminderPollMs: e.EVENT_REMINDER_POLL_MS },
    messageSendRate: parseRate(e.MESSAGE_SEND_RATE),
    signInRate: parseRate(e.SIGN_IN_RATE),
    corsOrigins: corsOriginsOf(e.CORS_ORIGINS, e.DATABASE_URL ? 'services' : 'embedded'),
    metricsToken: e.METRICS_TOKEN,
    media: {
      imageMaxBytes: e.MEDIA_IMAGE_MAX_BYTES,
      fileMaxBytes: e.MEDIA_FILE_MAX_BYTES,
      pendingMax: e.MEDIA_PENDING_MAX,
      dailyBytes: e.MEDIA_DAILY_BYTES,
      limitInputPixels: e.MEDIA_LIMIT_INPUT_PIXELS,
      downloadTtlSec: e.MEDIA_DOWNLOAD_TTL_SEC,
      pendingExpiryMs: e.MEDIA_PENDING_EXPIRY_MS,
      cleanupMs: e.MEDIA_CLEANUP_MS,
      serviceToken: e.MEDIA_SERVICE_TOKEN ?? null,
    },
    polls: { voterKey: e.POLL_VOTER_KEY, closePollMs: e.POLL_CLOSE_POLL_MS },
    guard: {
      trustProxy: e.TRUST_PROXY,
      signInIpFailuresPerDay: e.SIGN_IN_IP_FAILURES_PER_DAY,
      signInEmailFailuresPerDay: e.SIGN_IN_EMAIL_FAILURES_PER_DAY,
      wsAuthTimeoutMs: e.WS_AUTH_TIMEOUT_MS,
    },
  };
}

/** CORS_ORIGINS parsed, or the mode's default when it is unset. */
function corsOriginsOf(text: string | undefined, mode: 'services' | 'embedded'): readonly string[] {
  if (text === undefined) return mode === 'embedded' ? [...EMBEDDED_DEFAULT_ORIGINS] : [];
  try {
    return parseOriginList(text).entries;
  } catch (err) {
    if (err instanceof OriginListError) throw new ConfigError(`invalid environment variable CORS_ORIGINS: ${err.message}`);
    throw err;
  }
}
