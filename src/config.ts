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
  /** Events replayed per database page while a subscriber catches up. */
  replayPageSize: 500,
  /** A resume further behind than this is told to refetch instead of replayed. */
  replayMaxEvents: 5_000,
  /** Bytes a socket may have buffered before it is dropped as a slow reader. */
  wsMaxBufferedBytes: 4 * 1024 * 1024,
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
  };
}
