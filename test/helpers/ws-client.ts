import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter } from '../../sdk/src/index.js';

/**
 * A stock tRPC client that sends everything (queries, mutations, subscriptions) over one
 * WebSocket, as any tRPC client could. `close()` closes the socket.
 */
export function wsOnlyClient(url: string, token?: string): { client: TRPCClient<AppRouter>; close: () => void } {
  const ws = createWSClient({
    url: `${url.replace(/^http/, 'ws')}/trpc`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    connectionParams: () => (token ? { token } : {}),
  });
  return {
    client: createTRPCClient<AppRouter>({ links: [wsLink({ client: ws, transformer: superjson })] }),
    close: () => ws.close(),
  };
}

/**
 * Opens a raw WebSocket to `/trpc` (plus `query`, e.g. `?connectionParams=1`) and resolves
 * once it is open; for tests that speak the wsLink protocol by hand.
 */
export function rawSocket(url: string, query = ''): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/trpc${query}`);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
