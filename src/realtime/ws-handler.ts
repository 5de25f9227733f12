import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { parseTRPCMessage } from '@trpc/server/rpc';
import type { Context } from '../trpc.js';
import { AppError } from '../errors.js';
import type { AppHandle } from '../app.js';
import { ScopeFeed } from './feed.js';
import { ScopeSubscription } from './stream.js';
import type { WireEvent } from './wire.js';
import { FrameWriter } from './frames.js';
import { socketGroupsOf } from './socket-group.js';
import { unnamed } from './unnamed.js';
import { queryParam } from './query-param.js';
import { codeOf, recordCall, wasRecorded } from '../ops/calls.js';
import { clientIp } from '../guard/client-ip.js';
import { isUnavailable } from '../guard/unavailable.js';
import { isTokenForm, MALFORMED_TOKEN } from '../auth/token.js';

const OPEN = 1;

export interface WsHandlerOptions {
  wss: WebSocketServer;
  router: AnyRouter;
  app: AppHandle;
  log: Logger;
  /** Resolves a token to a user id, for the per-user connection cap. */
  userIdOf: (token: string | null) => Promise<string | null>;
  /** Open sockets per signed-in user; past it: close 4429. */
  maxConnectionsPerUser: number;
  /**
   * Open sockets without a session (not signed in, or not yet past their connectionParams)
   * per remote address; past it: close 4429. Higher than the per-user cap: many people
   * share one address behind an office or carrier NAT, and each socket counts here until
   * its connectionParams are read.
   */
  maxAnonymousPerAddress: number;
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
 * Per-connection state is one `Connection` object (methods on its prototype, not
 * closures per socket: under tsx, whose esbuild keeps function names, each named closure
 * costs about 360 bytes), and one instance-wide timer runs the keep-alive and the
 * presence heartbeats of every socket, instead of two or three timers per socket.
 *
 * @returns `broadcastReconnectNotification()`, which tells every client to reconnect,
 *   and `subscriptionCount()`, the open subscriptions of every socket.
 */
export function applyWsHandler(o: WsHandlerOptions): { broadcastReconnectNotification: () => void; subscriptionCount: () => number } {
  const shared = new Shared(o);
  o.wss.on('connection', (socket: WebSocket, req: IncomingMessage) => void new Connection(shared, socket, req));
  o.wss.once('close', () => shared.stop());
  return {
    subscriptionCount() {
      let n = 0;
      for (const c of shared.live) n += c.subs.size;
      return n;
    },
    broadcastReconnectNotification() {
      const data = JSON.stringify({ id: null, method: 'reconnect' });
      for (const c of o.wss.clients) if (c.readyState === OPEN) c.send(data);
    },
  };
}

/** What every connection of one server shares: options, counts and the one keep-alive timer. */
class Shared {
  readonly config: AnyRouter['_def']['_config'];
  /** Open connections by `user:<id>` (signed in) or `address:<remote address>` (no session). */
  readonly connections = new Map<string, number>();
  /** Every open connection (keep-alive, presence heartbeats, the subscriptions gauge). */
  readonly live = new Set<Connection>();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly o: WsHandlerOptions) {
    this.config = o.router._def._config;
    // Granularity of the keep-alive: a fifth of the shorter of its two delays (1 s by default).
    const tickMs = Math.max(50, Math.min(o.keepAlive.pingMs, o.keepAlive.pongWaitMs) / 5);
    this.timer = setInterval(() => this.tick(), tickMs).unref();
  }

  /**
   * The keep-alive of @trpc/server's adapter (handleKeepAlive), for every socket at once:
   * a socket quiet for `pingMs` gets PING; one that then sends nothing for `pongWaitMs`
   * is terminated. And each signed-in socket refreshes its presence every 20 s.
   */
  private tick() {
    const now = Date.now();
    const { pingMs, pongWaitMs } = this.o.keepAlive;
    for (const c of this.live) {
      if (c.pingedAt !== 0) {
        if (now - c.pingedAt >= pongWaitMs) c.socket.terminate();
      } else if (now - c.lastSeen >= pingMs) {
        c.pingedAt = now;
        if (c.socket.readyState === OPEN) c.socket.send('PING');
      }
      if (c.presenceUser !== null && now - c.heartbeatAt >= PRESENCE_HEARTBEAT_MS) {
        c.heartbeatAt = now;
        void this.o.presence!.heartbeat(c.presenceUser, c.connId).catch(this.presenceFailed);
      }
    }
  }

  /**
   * Logs a failed presence update. One function for every socket: a closure made per
   * call would hold its Connection (socket, buffers, feeds) until Redis answers, which
   * under load is long after the socket closed.
   */
  readonly presenceFailed = (err: unknown) => this.o.log.warn({ err }, 'presence update failed');

  stop() {
    clearInterval(this.timer);
  }
}

type Parsed = ReturnType<typeof parseTRPCMessage>;

/** What a socket opened with `?connectionParams=1` must send first (the close reason, 4400, when it does not: at most 123 bytes). */
const FIRST_FRAME = 'the first frame must be {"method":"connectionParams","data":{"token":"…"}}';
/** The same, as the message of the error frame sent before that close, which has room to say why and what the token is. */
const FIRST_FRAME_MESSAGE = 'this socket was opened with ?connectionParams=1: its first frame must be {"method":"connectionParams","data":{"token":"…"}}, with the token from auth.signIn or null';
/** The answer to connectionParams after the first frame (they are not read again: the session stays). */
const CONNECTION_PARAMS_AGAIN = 'connectionParams are read once, from the first frame of a socket opened with ?connectionParams=1; this socket keeps its session: to sign in as someone else, open a new socket';
/** The close reason (4400) of connectionParams whose token is neither a string nor null. */
const BAD_TOKEN = 'connectionParams.token must be a string (the token from auth.signIn) or null';
/** The close reason (4400) of a token string that cannot be a token (src/auth/token.ts); a well-formed unknown one is let in. */
const MALFORMED = `connectionParams.token ${MALFORMED_TOKEN}`;
/** The close reason (4400) of a `wire` the server does not speak. */
const BAD_WIRE = 'connectionParams.wire must be "compact" or "superjson" (the default when it is absent)';

/** One WebSocket connection: its session, its calls and subscriptions. */
class Connection {
  /** Open calls by id; a subscription's controller stays until it ends. */
  readonly subs = new Map<SubId, AbortController>();
  readonly connId = randomUUID();
  private readonly o: WsHandlerOptions;
  private readonly ip: string;
  private ctx: Context | undefined;
  private userId: string | null = null;
  /** connectionParams `wire: "compact"` (the SDK's): conversation events in their compact form (src/realtime/compact.ts). */
  private compact = false;
  /** The key this socket is counted under in `connections`, once counted. */
  private countedAs: string | null = null;
  private closed = false;
  private ctxPromise: Promise<Context> | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  /** Keep-alive: when the last frame came (ms since the epoch); when PING was sent, 0 if not. */
  lastSeen = Date.now();
  pingedAt = 0;
  /** The signed-in user whose presence this socket keeps, and its last heartbeat (ms). */
  presenceUser: string | null = null;
  heartbeatAt = 0;

  constructor(
    private readonly shared: Shared,
    readonly socket: WebSocket,
    req: IncomingMessage,
  ) {
    const o = (this.o = shared.o);
    this.ip = clientIp(req, o.trustProxy);
    shared.live.add(this);
    const wantsParams = queryParam(req.url ?? '/', 'connectionParams') === '1';
    if (!wantsParams) this.ctxPromise = this.makeContext(null);
    // Waiting for connectionParams: counted as a socket without a session, and closed if they never come.
    else if (this.count(`address:${this.ip}`)) {
      this.authTimer = setTimeout(
        (c: Connection) => c.socket.close(4408, `send connectionParams within ${c.o.authTimeoutMs} ms of opening`),
        o.authTimeoutMs,
        this,
      );
    }
    socket.on('message', (raw: Buffer, isBinary: boolean) => this.onMessage(raw, isBinary));
    socket.on('error', (err: Error) => this.o.log.debug({ err }, 'websocket error'));
    socket.once('close', () => this.onClose());
  }

  /**
   * Answers a bad first frame with a PARSE_ERROR (id null) whose message is `message`, then
   * closes the socket with 4400 and `why` (a close reason: at most 123 bytes).
   */
  private refuseFirstFrame(why: string, message = why, cause?: unknown) {
    const error = new TRPCError({ code: 'PARSE_ERROR', message, cause });
    this.send({ id: null, error: this.errorShape(error, 'unknown', undefined, undefined) });
    setImmediate((s: WebSocket) => s.close(4400, why), this.socket);
  }

  /**
   * Refuses what a frame holds (not a call that failed) with BAD_REQUEST saying `message`:
   * one error under each of `ids`, or one under id null when there are none. The socket stays.
   */
  private refuseFrame(message: string, ids: readonly SubId[] = []) {
    const error = this.errorShape(new TRPCError({ code: 'BAD_REQUEST', message }), 'unknown', undefined, undefined);
    if (ids.length === 0) this.send({ id: null, error });
    for (const id of ids) this.send({ id, error });
  }

  private send(msg: unknown) {
    if (this.socket.readyState !== OPEN) return;
    this.socket.send(JSON.stringify(transformTRPCResponse(this.shared.config, msg as never)));
  }

  private errorShape(error: TRPCError, type: string, path: string | undefined, input: unknown) {
    return getErrorShape({ config: this.shared.config, error, type: type as never, path, input, ctx: this.ctx });
  }

  private report(error: TRPCError, path?: string) {
    if (error.code === 'INTERNAL_SERVER_ERROR' && !(error.cause instanceof AppError)) this.o.log.error({ err: error.cause ?? error, path }, 'procedure failed (ws)');
    // Refused before it reached a procedure (too many subscriptions, a duplicate id): still one line.
    if (!wasRecorded(error)) {
      recordCall(this.o.log, null, { requestId: randomUUID(), connectionId: this.connId, procedure: path || null, transport: 'ws', userId: this.userId, ms: null, code: codeOf(error) });
    }
  }

  /** Counts this socket under `key` (once); closes it with 4429 past the cap. */
  private count(key: string): boolean {
    this.countedAs = key;
    const connections = this.shared.connections;
    const n = (connections.get(key) ?? 0) + 1;
    connections.set(key, n);
    const perUser = key.startsWith('user:');
    const cap = perUser ? this.o.maxConnectionsPerUser : this.o.maxAnonymousPerAddress;
    if (n <= cap) return true;
    this.socket.close(4429, `too many connections: at most ${cap} ${perUser ? 'per user' : 'without a session per address'}`);
    return false;
  }

  private uncount() {
    if (!this.countedAs) return;
    const connections = this.shared.connections;
    const n = (connections.get(this.countedAs) ?? 1) - 1;
    if (n <= 0) connections.delete(this.countedAs);
    else connections.set(this.countedAs, n);
    this.countedAs = null;
  }

  private async makeContext(connectionParams: Record<string, string> | null): Promise<Context> {
    const token = typeof connectionParams?.['token'] === 'string' ? connectionParams['token'] : null;
    const c: Context = { app: this.o.app, requestId: this.connId, connectionId: this.connId, token, transport: 'ws', ip: this.ip };
    this.ctx = c;
    const userId = (this.userId = await this.o.userIdOf(token).catch(() => null));
    if (this.closed) return c;
    // Signed-in sockets count per user; sockets without a session per client address.
    this.uncount();
    if (this.count(userId ? `user:${userId}` : `address:${this.ip}`) && userId && this.o.presence) {
      this.presenceUser = userId;
      this.heartbeatAt = Date.now();
      void this.o.presence.connected(userId, this.connId).catch(this.shared.presenceFailed);
    }
    return c;
  }

  private onMessage(raw: Buffer, isBinary: boolean) {
    this.lastSeen = Date.now();
    this.pingedAt = 0;
    const text = raw.toString();
    if (!isBinary && text === 'PONG') return;
    if (!isBinary && text === 'PING') return void this.socket.send('PONG');
    if (!this.ctxPromise) {
      // The first frame carries the connectionParams; a malformed one closes this socket only.
      try {
        const msg = JSON.parse(text) as { method?: unknown; data?: unknown };
        if (msg?.method !== 'connectionParams') throw new Error('expected connectionParams');
        // `data` is an object ({ token, wire }) or null/absent (no params): an array or a scalar is neither.
        if (msg.data != null && (typeof msg.data !== 'object' || Array.isArray(msg.data))) throw new Error('connectionParams data is not an object');
        const { token, wire } = (msg.data ?? {}) as { token?: unknown; wire?: unknown };
        if (token !== undefined && token !== null && typeof token !== 'string') return this.refuseFirstFrame(BAD_TOKEN);
        if (typeof token === 'string' && !isTokenForm(token)) return this.refuseFirstFrame(MALFORMED);
        if (wire !== undefined && wire !== 'compact' && wire !== 'superjson') return this.refuseFirstFrame(BAD_WIRE);
        // A client that has no token yet may send `{ token: null }`: drop non-string values.
        const data = msg.data && typeof msg.data === 'object' ? Object.fromEntries(Object.entries(msg.data).filter(([, v]) => typeof v === 'string')) : msg.data;
        const params = parseConnectionParamsFromUnknown(data) as Record<string, string> | null;
        this.compact = wire === 'compact';
        if (this.authTimer) clearTimeout(this.authTimer);
        this.authTimer = null;
        this.ctxPromise = this.makeContext(params);
      } catch (cause) {
        this.refuseFirstFrame(FIRST_FRAME, FIRST_FRAME_MESSAGE, cause);
      }
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch (cause) {
      const error = new TRPCError({ code: 'PARSE_ERROR', cause });
      this.send({ id: null, error: this.errorShape(error, 'unknown', undefined, undefined) });
      return;
    }
    if (Array.isArray(json) && json.length > this.o.maxBatchSize) {
      // Every call gets its own error, so a client can tell which of its calls failed.
      const ids = json.map(callIdOf).filter((id): id is SubId => id !== null);
      return this.refuseFrame(`a frame holds at most ${this.o.maxBatchSize} calls (got ${json.length})`, ids);
    }
    const calls: unknown[] = Array.isArray(json) ? json : [json];
    if (calls.length === 0) return this.refuseFrame('an empty batch: send at least one call, { id, method, params: { path, input } }');
    for (let index = 0; index < calls.length; index++) {
      const m = calls[index];
      if ((m as { method?: unknown } | null)?.method === 'connectionParams') {
        this.refuseFrame(CONNECTION_PARAMS_AGAIN);
        continue;
      }
      let msg: Parsed;
      try {
        msg = parseTRPCMessage(m, this.shared.config.transformer);
      } catch (cause) {
        // Answered under the call's own id when it has a usable one, so the client knows which call failed.
        const message = 'malformed call: expected { id, method, params: { path, input } } with input as superjson ({ "json": … })';
        const error = new TRPCError({ code: 'PARSE_ERROR', message, cause });
        this.send({ id: callIdOf(m), error: this.errorShape(error, 'unknown', undefined, undefined) });
        continue;
      }
      this.handle(msg, index).catch((err: unknown) => this.o.log.error({ err }, 'websocket request failed'));
    }
  }

  /** Answers a call that failed (or ends a subscription with its error). */
  private fail(cause: unknown, id: SubId, jsonrpc: '2.0' | undefined, type: string, path: string, input: unknown) {
    if (type === 'subscription' && isUnavailable(cause)) {
      // The database or Redis is briefly gone: an error would end the subscription for
      // good; a closed socket makes the client reconnect and resume from its lastEventId.
      this.o.log.warn({ err: cause, path }, 'subscription failed while a dependency is unavailable; closing the socket so the client resumes');
      this.socket.close(1012, 'service restarting: reconnect and resume');
      return;
    }
    const error = getTRPCErrorFromUnknown(cause);
    this.report(error, path);
    this.send({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
  }

  private async handle(msg: Parsed, batchIndex: number) {
    const { id, jsonrpc } = msg as { id: SubId | null; jsonrpc?: '2.0' };
    if (id === null || id === undefined) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
      this.send({ id: null, jsonrpc, error: this.errorShape(error, 'unknown', undefined, undefined) });
      return;
    }
    const subs = this.subs;
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
      this.report(error, path);
      this.send({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
      return;
    }
    if (type === 'subscription' && subs.size >= this.o.maxSubscriptionsPerSocket) {
      const error = new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `too many subscriptions on this connection: at most ${this.o.maxSubscriptionsPerSocket}; stop one first`,
      });
      this.report(error, path);
      this.send({ id, jsonrpc, error: this.errorShape(error, type, path, input) });
      return;
    }
    // Only a subscription can be stopped (subscription.stop, the socket closing): a query or
    // mutation runs to its end and gets no signal (an AbortController per call costs).
    const abortController = type === 'subscription' ? new AbortController() : null;
    const signal = abortController?.signal;
    if (abortController) subs.set(id, abortController);
    try {
      const c = await this.ctxPromise!;
      if (signal?.aborted || this.closed) return void subs.delete(id);
      const result = await callTRPCProcedure({
        router: this.o.router,
        path,
        getRawInput: unnamed(async () => input),
        // Each call has its own request id in the log; the connection's is connectionId.
        ctx: { ...c, requestId: randomUUID() },
        type,
        signal,
        batchIndex,
      });
      if (type !== 'subscription') {
        this.send({ id, jsonrpc, result: { type: 'data', data: result } });
        return;
      }
      if (signal!.aborted || this.closed) return void subs.delete(id);
      this.send({ id, jsonrpc, result: { type: 'started' } });
      const failure = result instanceof ScopeSubscription ? await this.runFast(result, id, jsonrpc, signal!) : await this.runIterable(result as AsyncIterable<unknown>, id, jsonrpc, signal!);
      if (failure) this.fail(failure.error, id, jsonrpc, type, path, input);
    } catch (cause) {
      this.fail(cause, id, jsonrpc, type, path, input);
    } finally {
      if (type === 'subscription' && !this.closed) {
        if (subs.get(id) === abortController) subs.delete(id);
        this.send({ id, jsonrpc, result: { type: 'stopped' } });
      } else subs.delete(id);
      // Whatever the procedure bound to the call's signal is cleaned up once it ends.
      abortController?.abort();
    }
  }

  /**
   * The fast path: pre-encoded frames written straight to the socket, by the socket
   * group's loop while the feed is in step, else by the feed itself through `emit`.
   * Resolves when the subscription ends: with its error, or null.
   */
  private async runFast(sub: ScopeSubscription, id: SubId, jsonrpc: '2.0' | undefined, signal: AbortSignal): Promise<{ error: unknown } | null> {
    const run = new FastRun(this, new FrameWriter(this.socket, id, jsonrpc, this.compact && sub.options.kind === 'scope'));
    const feed = new ScopeFeed({
      ...sub.options,
      group: run.writer.direct ? socketGroupsOf(sub.options.hub).handle(sub.options.channel, run.writer) : undefined,
      emit: run.emit.bind(run),
      fail: run.fail.bind(run),
    });
    const onAbort = run.done.bind(run);
    signal.addEventListener('abort', onAbort);
    try {
      await feed.start();
      await run.ended;
      return run.failure;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await feed.stop();
    }
  }

  /** Any other subscription: iterate and send, as tRPC's adapter does. Resolves with null when it ends. */
  private async runIterable(iterable: AsyncIterable<unknown>, id: SubId, jsonrpc: '2.0' | undefined, signal: AbortSignal): Promise<null> {
    const iterator = iterable[Symbol.asyncIterator]();
    const aborted = new Promise<'abort'>((r) => signal.addEventListener('abort', () => r('abort'), { once: true }));
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        if (next === 'abort' || next.done) break;
        const value = next.value;
        if (isTrackedEnvelope(value)) {
          const [trackedId, data] = value;
          this.send({ id, jsonrpc, result: { type: 'data', id: trackedId, data: { id: trackedId, data } } });
        } else {
          this.send({ id, jsonrpc, result: { type: 'data', data: value } });
        }
      }
    } finally {
      await iterator.return?.();
    }
    return null;
  }

  /** @internal A slow reader: drop the socket; the client reconnects and resumes from its last id. */
  dropSlowReader(key: string) {
    this.o.log.warn({ userId: this.userId, key, buffered: this.socket.bufferedAmount }, 'dropping a slow reader');
    this.socket.terminate();
  }

  /** @internal */
  get maxBufferedBytes(): number {
    return this.o.maxBufferedBytes;
  }

  private onClose() {
    this.closed = true;
    for (const s of this.subs.values()) s.abort();
    this.subs.clear();
    this.shared.live.delete(this);
    if (this.presenceUser !== null) {
      void this.o.presence!.disconnected(this.presenceUser, this.connId).catch(this.shared.presenceFailed);
      this.presenceUser = null;
    }
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.uncount();
  }
}

/** The delivery side of one fast-path subscription: what its feed calls to write or end. */
class FastRun {
  failure: { error: unknown } | null = null;
  readonly ended: Promise<void>;
  private resolve!: () => void;
  private readonly raw: Socket;

  constructor(
    private readonly conn: Connection,
    readonly writer: FrameWriter,
  ) {
    this.raw = writer.raw;
    this.ended = new Promise<void>((r) => (this.resolve = r));
  }

  /** Writes one event; false when the socket is closed or the reader too slow (then the run ends). */
  emit(w: WireEvent): boolean {
    const socket = this.conn.socket;
    if (socket.readyState !== OPEN) return false;
    // bufferedAmount is only worth reading once the kernel stopped taking bytes.
    if (this.raw.writableNeedDrain && socket.bufferedAmount > this.conn.maxBufferedBytes) {
      this.conn.dropSlowReader(w.key);
      this.done();
      return false;
    }
    this.writer.write(w);
    return true;
  }

  fail(error: unknown) {
    this.failure = { error };
    this.done();
  }

  done() {
    this.resolve();
  }
}
