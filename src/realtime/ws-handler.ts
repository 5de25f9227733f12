import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import {
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  isTrackedEnvelope,
  transformTRPCResponse,
  TRPCError,
  type AnyRouter,
} from '@trpc/server';
import { handleKeepAlive } from '@trpc/server/adapters/ws';
import { parseConnectionParamsFromUnknown, parseTRPCMessage } from '@trpc/server/unstable-core-do-not-import';
import type { Context } from '../trpc.js';
import { AppError } from '../errors.js';
import type { AppHandle } from '../app.js';
import { ScopeFeed } from './feed.js';
import { ScopeSubscription } from './stream.js';
import type { WireEvent } from './wire.js';
import { FrameWriter } from './frames.js';
import { socketGroupsOf } from './socket-group.js';
import { codeOf, recordCall, wasRecorded } from '../ops/calls.js';
import { clientIp } from '../guard/client-ip.js';
import { isUnavailable } from '../guard/unavailable.js';

const OPEN = 1;

export interface WsHandlerOptions {
  wss: WebSocketServer;
  router: AnyRouter;
  app: AppHandle;
  log: Logger;
  /** Resolves a token to a user id, for the per-user connection cap. */
  userIdOf: (token: string | null) => Promise<string | null>;
  /** Open sockets per signed-in user, and per remote address for sockets without a session; past it: close 4429. */
  maxConnectionsPerUser: number;
  /** A socket with more bytes buffered than this is a slow reader: it is dropped and resumes later. */
  maxBufferedBytes: number;
  keepAlive: { pingMs: number; pongWaitMs: number };
  /** Calls in one frame (the wsLink sends every call of one tick together); past it each is refused with BAD_REQUEST. */
  maxBatchSize: number;
  /** Open subscriptions one socket may hold; one more is refused with TOO_MANY_REQUESTS. */
  maxSubscriptionsPerSocket: number;
  /** Proxies trusted for X-Forwarded-For (TRUST_PROXY): the client's address keys the cap of sockets without a session. */
  trustProxy: number;
  /**
   * A socket opened with `?connectionParams=1` must send them within this long (ms), else
   * it is closed with 4408; until then it counts as a socket without a session.
   */
  authTimeoutMs: number;
  /** Told when a signed-in connection opens, is still alive (every 20 s) and closes. */
  presence?: {
    connected(userId: string, connId: string): Promise<void>;
    heartbeat(userId: string, connId: string): Promise<void>;
    disconnected(userId: string, connId: string): Promise<void>;
  };
}

/** How often an open connection refreshes its presence (ms); well under PRESENCE_TTL_MS. */
const PRESENCE_HEARTBEAT_MS = 20_000;

type SubId = number | string;

/** The id of a call as the client sent it, when it is one a reply can carry; else null. */
function callIdOf(call: unknown): SubId | null {
  const id = call && typeof call === 'object' ? (call as { id?: unknown }).id : undefined;
  return typeof id === 'number' || typeof id === 'string' ? id : null;
}

/**
 * Serves the router over WebSocket, speaking exactly the protocol of @trpc/client's
 * wsLink (connectionParams, query/mutation/subscription, subscription.stop, started /
 * data with tracked ids / stopped, errors, PING/PONG, the reconnect notification), so
 * the stock client works unchanged.
 *
 * Why not the stock adapter: it drives every subscriber through its own async iterator,
 * promise races and a superjson + JSON.stringify per socket, which costs about three
 * times the CPU of a bare `ws` broadcast. Here a conversation subscription (a
 * ScopeSubscription) is fed by the instance's hub: each event is serialised once where
 * it is published, its WebSocket frame is built once per subscription head (`{"id":<its
 * subscription id>,"result":{"type":"data","id":"` + the same pre-encoded bytes), and
 * the sockets that are in step get it from one loop per conversation and head
 * (src/realtime/socket-group.ts), one write each. Every other procedure goes through
 * tRPC's own callProcedure, with its middlewares, inputs and error formatter.
 *
 * @returns `broadcastReconnectNotification()`, which tells every client to reconnect.
 */
export function applyWsHandler(o: WsHandlerOptions): { broadcastReconnectNotification: () => void; subscriptionCount: () => number } {
  const config = o.router._def._config;
  const transformer = config.transformer;
  /** Open connections by `user:<id>` (signed in) or `address:<remote address>` (no session). */
  const connections = new Map<string, number>();
  /** The subscriptions of every open socket (for the subscriptions gauge). */
  const allSubs = new Set<Map<SubId, unknown>>();

  o.wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const subs = new Map<SubId, { abort: () => void }>();
    allSubs.add(subs);
    let ctx: Context | undefined;
    /** connectionParams `wire: "compact"` (the SDK's): conversation events in their compact form (src/realtime/compact.ts). */
    let compact = false;
    let userId: string | null = null;
    /** The key this socket is counted under in `connections`, once counted. */
    let countedAs: string | null = null;
    let closed = false;
    const connId = randomUUID();
    let heartbeat: NodeJS.Timeout | null = null;

    const send = (msg: unknown) => {
      if (socket.readyState !== OPEN) return;
      socket.send(JSON.stringify(transformTRPCResponse(config, msg as never)));
    };
    const errorShape = (error: TRPCError, type: string, path: string | undefined, input: unknown) =>
      getErrorShape({ config, error, type: type as never, path, input, ctx });
    const report = (error: TRPCError, path?: string) => {
      if (error.code === 'INTERNAL_SERVER_ERROR' && !(error.cause instanceof AppError)) o.log.error({ err: error.cause ?? error, path }, 'procedure failed (ws)');
      // Refused before it reached a procedure (too many subscriptions, a duplicate id): still one line.
      if (!wasRecorded(error)) recordCall(o.log, null, { requestId: randomUUID(), connectionId: connId, procedure: path ?? null, transport: 'ws', userId, ms: null, code: codeOf(error) });
    };

    handleKeepAlive(socket, o.keepAlive.pingMs, o.keepAlive.pongWaitMs);

    const ip = clientIp(req, o.trustProxy);
    const who = (key: string) => (key.startsWith('user:') ? 'per user' : 'without a session per address');
    /** Counts this socket under `key` (once); closes it with 4429 past the cap. */
    const count = (key: string): boolean => {
      countedAs = key;
      const n = (connections.get(key) ?? 0) + 1;
      connections.set(key, n);
      if (n <= o.maxConnectionsPerUser) return true;
      socket.close(4429, `too many connections: at most ${o.maxConnectionsPerUser} ${who(key)}`);
      return false;
    };
    const uncount = () => {
      if (!countedAs) return;
      const n = (connections.get(countedAs) ?? 1) - 1;
      if (n <= 0) connections.delete(countedAs);
      else connections.set(countedAs, n);
      countedAs = null;
    };

    const makeContext = async (connectionParams: Record<string, string> | null): Promise<Context> => {
      const token = typeof connectionParams?.['token'] === 'string' ? connectionParams['token'] : null;
      const c: Context = { app: o.app, requestId: connId, connectionId: connId, token, transport: 'ws', ip };
      ctx = c;
      userId = await o.userIdOf(token).catch(() => null);
      if (closed) return c;
      // Signed-in sockets count per user; sockets without a session per client address.
      uncount();
      if (count(userId ? `user:${userId}` : `address:${ip}`) && userId && o.presence) {
        const uid = userId;
        const warn = (err: unknown) => o.log.warn({ err }, 'presence update failed');
        void o.presence.connected(uid, connId).catch(warn);
        heartbeat = setInterval(() => void o.presence!.heartbeat(uid, connId).catch(warn), PRESENCE_HEARTBEAT_MS).unref();
      }
      return c;
    };

    const wantsParams = new URL(req.url ?? '/', 'http://x').searchParams.get('connectionParams') === '1';
    let ctxPromise: Promise<Context> | null = wantsParams ? null : makeContext(null);
    // Waiting for connectionParams: counted as a socket without a session, and closed if they never come.
    let authTimer: NodeJS.Timeout | null = null;
    if (wantsParams && count(`address:${ip}`)) {
      authTimer = setTimeout(() => socket.close(4408, `send connectionParams within ${o.authTimeoutMs} ms of opening`), o.authTimeoutMs);
    }

    socket.on('message', (raw, isBinary) => {
      const text = raw.toString();
      if (!isBinary && text === 'PONG') return;
      if (!isBinary && text === 'PING') return void socket.send('PONG');
      if (!ctxPromise) {
        // The first frame carries the connectionParams; a malformed one closes this socket only.
        try {
          const msg = JSON.parse(text) as { method?: unknown; data?: unknown };
          if (msg?.method !== 'connectionParams') throw new Error('expected connectionParams');
          // A client that has no token yet may send `{ token: null }`: drop non-string values.
          const data = msg.data && typeof msg.data === 'object' ? Object.fromEntries(Object.entries(msg.data).filter(([, v]) => typeof v === 'string')) : msg.data;
          const params = parseConnectionParamsFromUnknown(data) as Record<string, string> | null;
          compact = params?.['wire'] === 'compact';
          if (authTimer) clearTimeout(authTimer);
          ctxPromise = makeContext(params);
        } catch (cause) {
          const error = new TRPCError({ code: 'PARSE_ERROR', message: 'Malformed TRPCConnectionParamsMessage', cause });
          send({ id: null, error: errorShape(error, 'unknown', undefined, undefined) });
          setImmediate(() => socket.close());
        }
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(text) as unknown;
      } catch (cause) {
        const error = new TRPCError({ code: 'PARSE_ERROR', cause });
        send({ id: null, error: errorShape(error, 'unknown', undefined, undefined) });
        return;
      }
      if (Array.isArray(json) && json.length > o.maxBatchSize) {
        // Every call gets its own error, so a client can tell which of its calls failed.
        const error = new TRPCError({ code: 'BAD_REQUEST', message: `a frame holds at most ${o.maxBatchSize} calls (got ${json.length})` });
        const shape = errorShape(error, 'unknown', undefined, undefined);
        const answerable = json.map(callIdOf).filter((id): id is SubId => id !== null);
        if (answerable.length === 0) send({ id: null, error: shape });
        for (const id of answerable) send({ id, error: shape });
        return;
      }
      (Array.isArray(json) ? json : [json]).forEach((m: unknown, index) => {
        let msg: ReturnType<typeof parseTRPCMessage>;
        try {
          msg = parseTRPCMessage(m, transformer);
        } catch (cause) {
          // Answered under the call's own id when it has a usable one, so the client knows which call failed.
          const message = 'malformed call: expected { id, method, params: { path, input } } with input as superjson ({ "json": … })';
          const error = new TRPCError({ code: 'PARSE_ERROR', message, cause });
          send({ id: callIdOf(m), error: errorShape(error, 'unknown', undefined, undefined) });
          return;
        }
        void handle(msg, index).catch((err) => o.log.error({ err }, 'websocket request failed'));
      });
    });

    async function handle(msg: ReturnType<typeof parseTRPCMessage>, batchIndex: number) {
      const { id, jsonrpc } = msg as { id: SubId | null; jsonrpc?: '2.0' };
      if (id === null || id === undefined) {
        const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
        send({ id: null, jsonrpc, error: errorShape(error, 'unknown', undefined, undefined) });
        return;
      }
      if (msg.method === 'subscription.stop') {
        subs.get(id)?.abort();
        return;
      }
      const { path, lastEventId } = msg.params;
      let input = msg.params.input as unknown;
      const type = msg.method;
      if (lastEventId !== undefined) {
        input = input && typeof input === 'object' ? { ...(input as object), lastEventId } : (input ?? { lastEventId });
      }
      if (type === 'subscription' && subs.has(id)) {
        const error = new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` });
        report(error, path);
        send({ id, jsonrpc, error: errorShape(error, type, path, input) });
        return;
      }
      if (type === 'subscription' && subs.size >= o.maxSubscriptionsPerSocket) {
        const error = new TRPCError({
          code: 'TOO_MANY_REQUESTS',
          message: `too many subscriptions on this connection: at most ${o.maxSubscriptionsPerSocket}; stop one first`,
        });
        report(error, path);
        send({ id, jsonrpc, error: errorShape(error, type, path, input) });
        return;
      }
      const abortController = new AbortController();
      const entry = { abort: () => abortController.abort() };
      if (type === 'subscription') subs.set(id, entry);
      const fail = (cause: unknown) => {
        if (type === 'subscription' && isUnavailable(cause)) {
          // The database or Redis is briefly gone: an error would end the subscription for
          // good; a closed socket makes the client reconnect and resume from its lastEventId.
          o.log.warn({ err: cause, path }, 'subscription failed while a dependency is unavailable; closing the socket so the client resumes');
          socket.close(1012, 'service restarting: reconnect and resume');
          return;
        }
        const error = getTRPCErrorFromUnknown(cause);
        report(error, path);
        send({ id, jsonrpc, error: errorShape(error, type, path, input) });
      };
      const finish = () => {
        if (subs.get(id) === entry) subs.delete(id);
        if (type === 'subscription') send({ id, jsonrpc, result: { type: 'stopped' } });
      };
      try {
        const c = await ctxPromise!;
        if (abortController.signal.aborted || closed) return void subs.delete(id);
        const result = await callTRPCProcedure({
          router: o.router,
          path,
          getRawInput: async () => input,
          // Each call has its own request id in the log; the connection's is connectionId.
          ctx: { ...c, requestId: randomUUID() },
          type,
          signal: abortController.signal,
          batchIndex,
        });
        if (type !== 'subscription') {
          send({ id, jsonrpc, result: { type: 'data', data: result } });
          return;
        }
        if (abortController.signal.aborted || closed) return void subs.delete(id);
        send({ id, jsonrpc, result: { type: 'started' } });
        if (result instanceof ScopeSubscription) {
          await runFast(result, id, jsonrpc, abortController.signal, fail);
        } else {
          await runIterable(result as AsyncIterable<unknown>, id, jsonrpc, abortController.signal);
        }
      } catch (cause) {
        fail(cause);
      } finally {
        if (type === 'subscription' && !closed) finish();
        else subs.delete(id);
        // Whatever the procedure bound to the call's signal is cleaned up once it ends.
        if (type === 'subscription') abortController.abort();
      }
    }

    /**
     * The fast path: pre-encoded frames written straight to the socket, by the socket
     * group's loop while the feed is in step, else by the feed itself through `emit`.
     */
    async function runFast(sub: ScopeSubscription, id: SubId, jsonrpc: '2.0' | undefined, signal: AbortSignal, fail: (e: unknown) => void) {
      const writer = new FrameWriter(socket, id, jsonrpc, compact && sub.options.kind === 'scope');
      const raw = writer.raw;
      let failure: { error: unknown } | null = null;
      let done!: () => void;
      const ended = new Promise<void>((r) => (done = r));
      const feed = new ScopeFeed({
        ...sub.options,
        group: writer.direct ? socketGroupsOf(sub.options.hub).handle(sub.options.channel, writer) : undefined,
        emit: (w: WireEvent) => {
          if (socket.readyState !== OPEN) return false;
          // bufferedAmount is only worth reading once the kernel stopped taking bytes.
          if (raw.writableNeedDrain && socket.bufferedAmount > o.maxBufferedBytes) {
            // A slow reader: drop the socket; the client reconnects and resumes from its last id.
            o.log.warn({ userId, key: w.key, buffered: socket.bufferedAmount }, 'dropping a slow reader');
            socket.terminate();
            done();
            return false;
          }
          writer.write(w);
          return true;
        },
        fail: (error) => {
          failure = { error };
          done();
        },
      });
      const onAbort = () => done();
      signal.addEventListener('abort', onAbort);
      try {
        await feed.start();
        await ended;
        if (failure) fail((failure as { error: unknown }).error);
      } finally {
        signal.removeEventListener('abort', onAbort);
        await feed.stop();
      }
    }

    /** Any other subscription: iterate and send, as tRPC's adapter does. */
    async function runIterable(iterable: AsyncIterable<unknown>, id: SubId, jsonrpc: '2.0' | undefined, signal: AbortSignal) {
      const iterator = iterable[Symbol.asyncIterator]();
      const aborted = new Promise<'abort'>((r) => signal.addEventListener('abort', () => r('abort'), { once: true }));
      try {
        for (;;) {
          const next = await Promise.race([iterator.next(), aborted]);
          if (next === 'abort' || next.done) break;
          const value = next.value;
          if (isTrackedEnvelope(value)) {
            const [trackedId, data] = value;
            send({ id, jsonrpc, result: { type: 'data', id: trackedId, data: { id: trackedId, data } } });
          } else {
            send({ id, jsonrpc, result: { type: 'data', data: value } });
          }
        }
      } finally {
        await iterator.return?.();
      }
    }

    socket.on('error', (err) => o.log.debug({ err }, 'websocket error'));
    socket.once('close', () => {
      closed = true;
      for (const s of subs.values()) s.abort();
      subs.clear();
      allSubs.delete(subs);
      if (heartbeat) {
        clearInterval(heartbeat);
        void o.presence!.disconnected(userId!, connId).catch((err) => o.log.warn({ err }, 'presence update failed'));
      }
      if (authTimer) clearTimeout(authTimer);
      uncount();
    });
  });

  return {
    subscriptionCount() {
      let n = 0;
      for (const s of allSubs) n += s.size;
      return n;
    },
    broadcastReconnectNotification() {
      const data = JSON.stringify({ id: null, method: 'reconnect' });
      for (const c of o.wss.clients) if (c.readyState === OPEN) c.send(data);
    },
  };
}
