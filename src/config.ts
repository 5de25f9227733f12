import { z } from 'zod';

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
  /** Largest WebSocket frame the server accepts (bytes). */
  wsMaxPayloadBytes: 256 * 1024,
  /** Largest HTTP request body the server accepts (bytes). */
  httpMaxBodyBytes: 1024 * 1024,
  /** Open WebSocket connections one user may hold at once. */
  wsConnectionsPerUser: 20,
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
  /** Sends one user may make per window (rate-limiter-flexible: Redis when configured, else memory). */
  messageSendRate: { points: number; durationSec: number };
  /** Calendar events: how often the reminder scheduler polls (ms). */
  events: { reminderPollMs: number };
  signInRate: { points: number; durationSec: number };
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
    events: { reminderPollMs: e.EVENT_REMINDER_POLL_MS },
    messageSendRate: parseRate(e.MESSAGE_SEND_RATE),
    signInRate: parseRate(e.SIGN_IN_RATE),
    guard: {
      trustProxy: e.TRUST_PROXY,
      signInIpFailuresPerDay: e.SIGN_IN_IP_FAILURES_PER_DAY,
      signInEmailFailuresPerDay: e.SIGN_IN_EMAIL_FAILURES_PER_DAY,
      wsAuthTimeoutMs: e.WS_AUTH_TIMEOUT_MS,
    },
  };
}
