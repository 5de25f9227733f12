import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter, GuildhallClient } from '../../sdk/src/index.js';
import type { GuildhallServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';

/** A user with an HTTP client (the SDK's) and a WebSocket-only client for every operation. */
export interface TestUser {
  userId: string;
  token: string;
  http: GuildhallClient;
  ws: GuildhallClient;
}

/**
 * A client that sends queries, mutations and subscriptions over one WebSocket (wsLink
 * only), to prove every procedure behaves the same on both transports.
 */
export function wsOnlyClient(url: string, token: string): { client: GuildhallClient; close: () => void } {
  const wsClient = createWSClient({
    url: `${url.replace(/^http/, 'ws')}/trpc`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    lazy: { enabled: true, closeMs: 0 },
    connectionParams: () => ({ token }),
  });
  const client = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
  return { client, close: () => wsClient.close() };
}

/** Two server instances on one fresh database and one Redis prefix, and a user factory. */
export async function governanceEnv() {
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const a: GuildhallServer = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
  const b: GuildhallServer = await startServer({ databaseUrl: db.url, redisPrefix: prefix });
  const closers: (() => void)[] = [];
  async function user(name = 'user', server: GuildhallServer = a): Promise<TestUser> {
    const u = await signUpClient(server.url, name);
    const ws = wsOnlyClient(server.url, u.token);
    closers.push(() => closeClient(u.client), ws.close);
    return { userId: u.userId, token: u.token, http: u.client, ws: ws.client };
  }
  async function close() {
    for (const c of closers) c();
    await Promise.all([a.close(100), b.close(100)]);
    await db.drop();
  }
  return { db, a, b, user, close };
}
