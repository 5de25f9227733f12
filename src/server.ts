import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { queryHandler } from './http/trpc-queries.js';
import { jsonLabelled, trpcMethodGate } from './http/trpc-methods.js';
import type { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import { limits, type Config } from './config.js';
import { AppError } from './errors.js';
import { createLogger } from './log.js';
import { openServices, type Services } from './app.js';
import { appRouter } from './router.js';
import type { Context } from './trpc.js';
import { applyWsHandler } from './realtime/ws-handler.js';
import { corsStep, refuseUpgradeOrigin } from './http/cors.js';
import { endRaw, upgradeRefusal } from './http/raw-answer.js';
import { parseOriginList } from './http/origins.js';
import { answerTracker, plainUpgradeHandler, wantsWebSocket } from './http/plain-upgrade.js';
import { restSurface } from './rest/mount.js';
import { codeOf, recordCall, roundMs, wasRecorded } from './ops/calls.js';
import { serveMetrics } from './ops/endpoint.js';
import { requestIdOf } from './ops/request-id.js';
import { startEmbeddedPipeline, type EmbeddedPipeline } from './media/pipeline.js';
import { handleS3Webhook, S3_WEBHOOK_PATH } from './media/webhook.js';
import { serveCalendarFeed } from './events/feed-http.js';
import { clientIp } from './guard/client-ip.js';

/** A running server instance. */
export interface GuildhallServer {
  /** Base URL, e.g. `http://127.0.0.1:3000`; tRPC is at `/trpc` over HTTP and WebSocket. */
  url: string;
  port: number;
  services: Services;
  httpServer: http.Server;
  /** The in-process media pipeline (embedded storage's notifications, the webhook); `idle()` resolves when it has caught up. */
  mediaPipeline: EmbeddedPipeline;
  /** The open WebSocket connections (for shutdown and tests). */
  wsClients(): Iterable<WebSocket>;
  /**
   * Graceful stop: stops accepting, tells WebSocket clients to reconnect
   * (broadcastReconnectNotification), waits up to `graceMs` for sockets to go, closes
   * the pools. Safe to call twice.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Starts a drain: from now on `GET /readyz` answers 503 (`draining: true`) so a load
   * balancer sends no new clients here, while every request and socket is still served;
   * resolves after `ms`. Then call `close()`.
   */
  drain(ms: number): Promise<void>;
}

const bearer = (h: string | undefined) => {
  const m = h?.match(/^Bearer\s+(\S+)$/i);
  return m ? m[1]! : null;
};

/**
 * Builds and starts one instance: one http.Server carrying tRPC over HTTP at `/trpc`
 * and over WebSocket on the same port, plus `GET /healthz` (200 while the process
 * runs) and `GET /readyz` (200 when the database, and Redis where configured, answer).
 */
export async function createServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<GuildhallServer> {
  const { app, services, close: closeServices } = await openServices(config, log);

  const trpcHandler = jsonLabelled(createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    maxBodySize: limits.httpMaxBodyBytes,
    maxBatchSize: limits.batchMax,
    createContext: ({ req }): Context => httpContext(req, 'http'),
    // A request tRPC refuses before any procedure (a batch over the limit, mixed types, an
    // unreadable path, a method) has no context yet: its log line gets one from the request.
    onError: ({ error, path, ctx, req }) => reportError(error, path, ctx ?? httpContext(req, 'http')),
  }));
  // Queries are answered without tRPC's Fetch adapter, everything else by tRPC's handler (src/http/trpc-queries.ts).
  const trpcQueries = queryHandler({
    router: appRouter,
    basePath: '/trpc/',
    maxBatchSize: limits.batchMax,
    createContext: (req) => httpContext(req, 'http'),
    onError: ({ error, path, ctx }) => reportError(error, path, ctx),
    fallback: trpcHandler,
  });
  // The methods and body types tRPC's handler leaves loose (OPTIONS, HEAD, PUT…, a POST that is not JSON).
  const trpcMethods = trpcMethodGate({ router: appRouter, basePath: '/trpc/', createContext: (req) => httpContext(req, 'http'), onError: ({ error, path, ctx }) => reportError(error, path, ctx) });
  const httpContext = (req: http.IncomingMessage, transport: 'http' | 'rest'): Context => ({
    app,
    requestId: requestIds.get(req) ?? requestIdOf(req),
    token: bearer(req.headers.authorization),
    transport,
    ip: clientIp(req, config.guard.trustProxy),
  });
  const reportError = (error: TRPCError, path: string | undefined, ctx: Context | undefined) => {
    // A domain error (AppError) is the client's mistake, not ours: the formatter maps its code.
    if (error.code === 'INTERNAL_SERVER_ERROR' && !(error.cause instanceof AppError)) log.error({ err: error.cause ?? error, path, requestId: ctx?.requestId }, 'procedure failed');
    // A call that never reached a procedure (unreadable, unknown path, batch too large) is logged here.
    if (ctx && !wasRecorded(error)) {
      recordCall(log, null, { requestId: ctx.requestId, procedure: path || null, transport: ctx.transport, userId: null, ms: null, code: codeOf(error) });
    }
  };
  // REST with plain JSON under /api, /openapi.json and /docs (src/rest/).
  const rest = restSurface({
    router: appRouter,
    createContext: (req) => httpContext(req, 'rest'),
    maxBodyBytes: limits.httpMaxBodyBytes,
    onError: ({ error, path, ctx }) => reportError(error, path, ctx),
    onFailure: (err, requestId) => log.error({ err, requestId }, 'REST request failed'),
    onRejected: ({ ctx, code, ms }) =>
      recordCall(log, services.metrics, { requestId: ctx.requestId, procedure: null, transport: 'rest', userId: null, ms: roundMs(ms), code }),
  });

  const origins = parseOriginList(config.corsOrigins);
  const applyCors = corsStep(origins);
  let pipeline: EmbeddedPipeline | null = null;
  /** True once a drain began (SIGTERM): `/readyz` answers 503 while the instance still serves. */
  let draining = false;
  /** The request id of each request, set on its response before any route runs (src/ops/request-id.ts). */
  const requestIds = new WeakMap<http.IncomingMessage, string>();
  const httpServer = http.createServer(async (req, res) => {
    const requestId = requestIdOf(req);
    requestIds.set(req, requestId);
    res.setHeader('x-request-id', requestId);
    if (await applyCors(req, res).catch(() => false)) return;
    const url = req.url ?? '/';
    if (url === S3_WEBHOOK_PATH && pipeline) {
      const p = pipeline;
      return void handleS3Webhook(req, res, { media: services.media, run: (e) => p.enqueue(e), log });
    }
    if (url === '/healthz') return void sendJson(res, 200, { ok: true });
    if (url === '/readyz') {
      if (draining) return void sendJson(res, 503, { ok: false, draining: true });
      void readiness(services).then((r) => sendJson(res, r.ok ? 200 : 503, r));
      return;
    }
    if (url.startsWith('/trpc/')) return void (trpcMethods(req, res) || trpcQueries(req, res));
    if (url === '/metrics') return void serveMetrics(req, res, services.metrics, config.metricsToken);
    if (url.startsWith('/calendar/')) return serveCalendarFeed(services.calendarFeeds, log, req, res);
    if (rest(req, res)) return;
    sendJson(res, 404, { code: 'NOT_FOUND', message: 'not found: tRPC is served at /trpc, REST at /api (see /openapi.json and /docs)' });
  });
  // Requests Node's parser refuses before any route (headers over 16 KiB, malformed requests)
  // get the REST view's error shape instead of a bare status line.
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'REQUEST_HEADER_FIELDS_TOO_LARGE', 'the request line and headers are over 16 KiB: send long inputs in a POST body, not in the URL']
        : [400, 'BAD_REQUEST', 'malformed HTTP request'];
    endRaw(socket, status, { code, message });
  });

  // No compression: conversation frames are pre-encoded once per event (src/realtime/frames.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.wsMaxPayloadBytes, perMessageDeflate: false });
  // ws's refusals of a handshake (not websocket, no key, another version) as JSON rather than its text/html.
  wss.on('wsClientError', (err: Error, socket: Duplex, req: http.IncomingMessage) => {
    const [status, code, message, headers] = upgradeRefusal(err.message, req.headers.upgrade);
    endRaw(socket, status, { code, message }, headers, req.method);
  });
  const afterAnswers = answerTracker(httpServer);
  const declineUpgrade = plainUpgradeHandler(httpServer, afterAnswers);
  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (socket.destroyed || refuseUpgradeOrigin(origins, req, socket)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/trpc' && path !== '/') {
      endRaw(socket, 404, { code: 'NOT_FOUND', message: `no WebSocket at ${path}: WebSocket is served at /trpc` }, {}, req.method);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  httpServer.on('upgrade', (req, socket, head) => {
    // Another protocol (h2c from `curl --http2`) is declined by answering over HTTP/1.1.
    if (!wantsWebSocket(req)) return declineUpgrade(req, socket, head);
    // After what is owed on the socket: a handshake pipelined behind requests comes after their answers.
    afterAnswers(socket, () => upgrade(req, socket, head));
  });
  const wsHandler = applyWsHandler({
    wss,
    router: appRouter,
    app,
    log,
    userIdOf: async (token) => (await services.auth.authenticate(token))?.id ?? null,
    maxConnectionsPerUser: limits.wsConnectionsPerUser,
    maxAnonymousPerAddress: limits.wsAnonymousPerAddress,
    maxSubscriptionsPerSocket: limits.wsSubscriptionsPerSocket,
    // A client may open all the subscriptions a socket may hold in one tick.
    maxBatchSize: limits.wsSubscriptionsPerSocket,
    maxBufferedBytes: config.realtime.maxBufferedBytes,
    trustProxy: config.guard.trustProxy,
    authTimeoutMs: config.guard.wsAuthTimeoutMs,
    keepAlive: { pingMs: 30_000, pongWaitMs: 5_000 },
    presence: services.presence,
  });
  services.metrics.gauge('guildhall_websocket_connections', 'Open WebSocket connections', () => wss.clients.size);
  services.metrics.gauge('guildhall_websocket_subscriptions', 'Open subscriptions over WebSocket (conversation, user, typing, presence streams)', () => wsHandler.subscriptionCount());

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  // Embedded storage's notifications, and the webhook's, run the media handler here (S3: the Lambda).
  const mediaPipeline = startEmbeddedPipeline({ storage: services.storage, url, serviceToken: services.media.serviceToken, log });
  pipeline = mediaPipeline;

  let closing: Promise<void> | null = null;
  return {
    async drain(ms) {
      draining = true;
      await new Promise((r) => setTimeout(r, ms));
    },
    url,
    port,
    services,
    httpServer,
    mediaPipeline,
    wsClients: () => wss.clients,
    close(graceMs = 2_000) {
      closing ??= (async () => {
        // The pipeline reports to this server: let it finish before the server stops listening.
        await mediaPipeline.stop();
        httpServer.close();
        wsHandler.broadcastReconnectNotification();
        await waitForSockets(wss, graceMs);
        for (const c of wss.clients) c.terminate();
        wss.close();
        httpServer.closeAllConnections();
        await closeServices();
      })();
      return closing;
    },
  };
}

async function waitForSockets(wss: WebSocketServer, graceMs: number) {
  const deadline = Date.now() + graceMs;
  while (wss.clients.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function readiness(s: Services): Promise<{ ok: boolean; database: boolean; redis: boolean | null }> {
  const withTimeout = <T>(p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2_000).unref())]);
  // Both at once; a Redis connection that is not up (reconnecting) is not ready now, without a
  // ping that would wait in ioredis's offline queue until the timeout.
  const [database, redis] = await Promise.all([
    withTimeout(s.database.ping()).then(() => true, () => false),
    s.redis ? (s.redis.status === 'ready' ? withTimeout(s.redis.ping()).then(() => true, () => false) : Promise.resolve(false)) : Promise.resolve(null),
  ]);
  return { ok: database && redis !== false, database, redis };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
