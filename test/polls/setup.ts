import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { createServer, type GuildhallServer } from '../../src/server.js';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { REDIS_URL } from '../helpers/env.js';
import { closeClient, createClient, signUpClient, testPrefix } from '../helpers/server.js';

/** The voter key every instance of a poll test shares (service mode: POLL_VOTER_KEY). */
export const VOTER_KEY = 'test-voter-key-0123456789abcdef0123456789abcdef';

/**
 * One database, two server instances on one Redis prefix (service mode, POLL_VOTER_KEY
 * set), every log line of both kept at trace level in `logs`, and a raw pool.
 */
export function usePollServers(env: Record<string, string> = {}) {
  const ctx = {} as { db: Awaited<ReturnType<typeof createTestDatabase>>; a: GuildhallServer; b: GuildhallServer; pool: pg.Pool; prefix: string };
  const logs: string[] = [];
  const clients: Parameters<typeof closeClient>[0][] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const start = (): Promise<GuildhallServer> => {
    const config: Config = {
      ...loadConfig({ MESSAGE_SEND_RATE: '1000000/1', POLL_VOTER_KEY: VOTER_KEY, POLL_CLOSE_POLL_MS: '50', ...env }),
      port: 0,
      host: '127.0.0.1',
      databaseUrl: ctx.db.url,
      redisUrl: REDIS_URL,
      redisPrefix: ctx.prefix,
    };
    return createServer(config, pino({ level: 'trace' }, sink));
  };
  beforeAll(async () => {
    ctx.db = await createTestDatabase();
    ctx.prefix = testPrefix();
    ctx.a = await start();
    ctx.b = await start();
    ctx.pool = rawPool(ctx.db.url);
  });
  afterAll(async () => {
    for (const c of clients) closeClient(c);
    await Promise.all([ctx.a?.close(100), ctx.b?.close(100)]);
    await ctx.pool?.end();
    await ctx.db?.drop();
  });

  async function user(name: string, on: 'a' | 'b' = 'a') {
    const u = await signUpClient(ctx[on].url, name);
    clients.push(u.client);
    return u;
  }

  /** A community with a room, owned by `owner`; `members` join both (`concurrency` at a time). */
  async function room(owner: User, members: User[] = [], concurrency = 10) {
    const community = await owner.client.scopes.create.mutate({ kind: 'community', name: 'Guild' });
    const r = await owner.client.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'general' });
    for (let i = 0; i < members.length; i += concurrency) {
      await Promise.all(
        members.slice(i, i + concurrency).map(async (m) => {
          await m.client.members.join.mutate({ scopeId: community.id });
          await m.client.members.join.mutate({ scopeId: r.id });
        }),
      );
    }
    return { community, room: r };
  }

  /** `n` users signed up `concurrency` at a time. */
  async function users(n: number, name: string, concurrency = 10, on: 'a' | 'b' = 'a') {
    const out: User[] = [];
    for (let i = 0; i < n; i += concurrency) out.push(...(await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, (_, j) => user(`${name}${i + j}`, on)))));
    return out;
  }

  /**
   * `n` members of `scopeIds` (parent first) made with raw SQL (users, sessions,
   * memberships: setup only, so hundreds are cheap), each with an SDK client on `on`.
   */
  async function members(n: number, scopeIds: string[], on: 'a' | 'b' = 'a'): Promise<User[]> {
    const tokens = Array.from({ length: n }, () => randomBytes(32).toString('base64url'));
    const { rows } = await ctx.pool.query(
      `insert into users (email, display_name, password_hash)
       select 'm-' || gen_random_uuid() || '@example.com', 'member ' || i, 'x' from generate_series(1, $1::int) i returning id`,
      [n],
    );
    const ids = rows.map((r) => r.id as string);
    await ctx.pool.query(
      `insert into sessions (user_id, token_hash, expires_at) select unnest($1::uuid[]), unnest($2::text[]), now() + interval '1 day'`,
      [ids, tokens.map((t) => createHash('sha256').update(t).digest('hex'))],
    );
    for (const scopeId of scopeIds) await ctx.pool.query(`insert into memberships (scope_id, user_id) select $1, unnest($2::uuid[])`, [scopeId, ids]);
    return ids.map((userId, i) => {
      const client = createClient({ url: ctx[on].url, token: tokens[i]! });
      clients.push(client);
      return { client, token: tokens[i]!, userId, email: '' };
    });
  }

  return { ctx, logs, user, users, members, room, start };
}

export type User = Awaited<ReturnType<typeof signUpClient>>;
