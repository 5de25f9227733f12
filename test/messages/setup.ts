import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import type pg from 'pg';

/**
 * One database and two server instances on one Redis prefix per test file (as
 * test/messaging.test.ts), plus a raw pool for trigger tests and setup shortcuts.
 */
export function useServers(opts: { env?: Record<string, string> } = {}) {
  const ctx = {} as { db: Awaited<ReturnType<typeof createTestDatabase>>; a: GuildhallServer; b: GuildhallServer; pool: pg.Pool };
  const clients: Parameters<typeof closeClient>[0][] = [];
  beforeAll(async () => {
    ctx.db = await createTestDatabase();
    const prefix = testPrefix();
    ctx.a = await startServer({ databaseUrl: ctx.db.url, redisPrefix: prefix, env: opts.env });
    ctx.b = await startServer({ databaseUrl: ctx.db.url, redisPrefix: prefix, env: opts.env });
    ctx.pool = rawPool(ctx.db.url);
  });
  afterAll(async () => {
    for (const c of clients) closeClient(c);
    await Promise.all([ctx.a?.close(100), ctx.b?.close(100)]);
    await ctx.pool?.end();
    await ctx.db?.drop();
  });

  /** A fresh user with a client on instance `a` (or `b`). */
  async function user(name: string, on: 'a' | 'b' = 'a') {
    const u = await signUpClient(ctx[on].url, name);
    clients.push(u.client);
    return u;
  }

  /** A community with a room, owned by `owner`; `members` join both. */
  async function room(owner: User, members: User[] = []) {
    const community = await owner.client.scopes.create.mutate({ kind: 'community', name: 'Guild' });
    const r = await owner.client.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'general' });
    for (const m of members) {
      await m.client.members.join.mutate({ scopeId: community.id });
      await m.client.members.join.mutate({ scopeId: r.id });
    }
    return { community, room: r };
  }

  return { ctx, user, room };
}

export type User = Awaited<ReturnType<typeof signUpClient>>;
