import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeClient, createClient } from '../sdk/src/index.js';

/**
 * The SDK's WebSocket client while a subscription is open: what it costs the process it
 * runs in when nothing happens. Against a bare `ws` server that answers each subscription
 * with `started` and nothing else, so only the client's own timers are counted.
 */

/** A server speaking just enough of the wsLink protocol: `started` for each subscription, PONG for PING. */
async function startedOnlyServer(): Promise<{ url: string; sockets: () => number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', r));
  wss.on('connection', (socket: WebSocket) => {
    socket.on('message', (raw) => {
      const text = String(raw);
      if (text === 'PING') return socket.send('PONG');
      const msg = JSON.parse(text) as { method?: string } | { id: number; method: string }[];
      for (const m of Array.isArray(msg) ? msg : [msg]) {
        if ('id' in m && m.method === 'subscription') socket.send(JSON.stringify({ id: m.id, result: { type: 'started' } }));
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    sockets: () => wss.clients.size,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    }),
  };
}

const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('SDK client timers', () => {
  afterEach(() => vi.restoreAllMocks());

  it('an open subscription arms no timer every millisecond (idle clients cost next to no CPU)', async () => {
    const server = await startedOnlyServer();
    const clients = Array.from({ length: 20 }, () => createClient({ url: server.url, token: 'gh_test' }));
    try {
      await Promise.all(
        clients.map(
          (c) => new Promise<void>((resolve, reject) => void c.messages.onEvent.subscribe({ scopeId: 'x' }, { onStarted: () => resolve(), onError: reject })),
        ),
      );
      const spy = vi.spyOn(globalThis, 'setTimeout');
      await new Promise((r) => setTimeout(r, 500));
      // Before: lazy mode with closeMs 0 re-armed a 0 ms timer per client as long as a
      // subscription was open, about 1,000 per client and second (20 clients: ~10,000 here).
      expect(spy.mock.calls.length).toBeLessThan(50);
    } finally {
      for (const c of clients) closeClient(c);
      await server.close();
    }
  });

  it('still closes its socket by itself once its last subscription ends', async () => {
    const server = await startedOnlyServer();
    const client = createClient({ url: server.url, token: 'gh_test' });
    try {
      let sub!: { unsubscribe(): void };
      await new Promise<void>((resolve, reject) => {
        sub = client.messages.onEvent.subscribe({ scopeId: 'x' }, { onStarted: () => resolve(), onError: reject });
      });
      expect(server.sockets()).toBe(1);
      sub.unsubscribe();
      await until(() => server.sockets() === 0, 5_000);
    } finally {
      closeClient(client);
      await server.close();
    }
  });
});
