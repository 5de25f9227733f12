import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type GuildhallServer } from '../../src/server.js';
import { createClient, closeClient, type GuildhallClient } from '../../sdk/src/index.js';
import { REDIS_URL } from './env.js';

/** A unique Redis key prefix for one test file. */
export const testPrefix = () => `test:${randomBytes(4).toString('hex')}:`;

/** Starts a real server on an ephemeral port against the given database and Redis prefix. */
export async function startServer(opts: {
  databaseUrl: string;
  redisPrefix: string;
  redis?: boolean;
  env?: Record<string, string>;
}): Promise<GuildhallServer> {
  const config: Config = {
    // Tests that flood a conversation must not trip the per-user send rate; the rate-limit
    // tests pass MESSAGE_SEND_RATE themselves.
    ...loadConfig({ MESSAGE_SEND_RATE: '1000000/1', ...opts.env }),
    port: 0,
    host: '127.0.0.1',
    databaseUrl: opts.databaseUrl,
    redisUrl: opts.redis === false ? undefined : REDIS_URL,
    redisPrefix: opts.redisPrefix,
  };
  return createServer(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
}

let counter = 0;

/** Signs up a fresh user through the SDK; returns a client carrying its token. */
export async function signUpClient(url: string, name = 'user'): Promise<{ client: GuildhallClient; token: string; userId: string; email: string }> {
  const email = `${name}-${Date.now()}-${counter++}-${randomBytes(3).toString('hex')}@example.com`;
  const anon = createClient({ url });
  const { token, user } = await anon.auth.signUp.mutate({ email, password: 'correct horse battery', displayName: name });
  return { client: createClient({ url, token }), token, userId: user.id, email };
}

export { createClient, closeClient };
