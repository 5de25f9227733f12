import type http from 'node:http';
import type { Duplex } from 'node:stream';
import cors from 'cors';
import type { OriginPolicy } from './origins.js';
import { endRaw } from './raw-answer.js';

/** How long a browser may cache a preflight's answer (seconds): 10 minutes, Chromium's own cap is 2 hours. */
export const PREFLIGHT_MAX_AGE_S = 600;

/** Methods of tRPC (GET queries, POST mutations and batches) and of the REST view under /api. */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** Headers a client sends: the bearer token, JSON bodies, a request id, tRPC's streaming accept. */
const HEADERS = ['Authorization', 'Content-Type', 'X-Request-Id', 'trpc-accept'];

/**
 * The CORS step in front of every HTTP route, with the `cors` package.
 *
 * - An allowed origin gets `Access-Control-Allow-Origin` (its own origin, with
 *   `Vary: Origin`; `*` when every origin is allowed). Its preflight (an `OPTIONS` with
 *   `Access-Control-Request-Method`) is answered here: 204 with the methods, the headers
 *   (`Authorization` and `Content-Type` among them) and `Access-Control-Max-Age`; an
 *   `OPTIONS` without that header goes on to its route as a plain request.
 * - A preflight from any other origin is answered 403 with a JSON body `{ code: 'FORBIDDEN', message }` (the REST view's error shape) saying which
 *   setting allows it, so the browser's console error has a cause a person can act on.
 * - Other requests from other origins go on without CORS headers: the browser then keeps
 *   the response from the page. Bearer tokens are never sent by a browser on its own
 *   (no cookies), so no cross-site request can act as a user.
 * - Requests without `Origin` (servers, the CLI, curl) are untouched.
 *
 * @returns a function that runs the step; it resolves `true` when it answered the request
 *   itself (a preflight), `false` when the route should run.
 */
export function corsStep(policy: OriginPolicy): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const middleware = cors({
    origin: (origin, done) => done(null, origin === undefined ? false : policy.any ? '*' : true),
    methods: METHODS,
    allowedHeaders: HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_S,
    optionsSuccessStatus: 204,
    preflightContinue: false,
  });
  return (req, res) => {
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (origin === undefined) return Promise.resolve(false);
    if (!policy.allows(origin, req.headers.host)) {
      if (!preflight) return Promise.resolve(false);
      res.writeHead(403, { 'content-type': 'application/json', vary: 'Origin' });
      res.end(JSON.stringify(refusalBody(origin)));
      return Promise.resolve(true);
    }
    // The middleware takes every OPTIONS for a preflight; the Fetch standard's preflight also
    // carries Access-Control-Request-Method. Any other OPTIONS gets the headers of a plain
    // request, and its route answers it (204 with `allow`, or 404).
    const seen = req.method === 'OPTIONS' && !preflight ? (Object.create(req, { method: { value: 'GET' } }) as http.IncomingMessage) : req;
    return new Promise<boolean>((resolve, reject) => {
      // The middleware either ends a preflight itself or calls next() for the route.
      res.once('finish', () => resolve(true));
      middleware(seen as never, res as never, (err?: unknown) => (err ? reject(err) : resolve(false)));
    });
  };
}

/**
 * The Origin check of a WebSocket upgrade: browsers send `Origin` on every upgrade and
 * CORS does not apply to WebSockets, so without this any page could open a socket.
 * An upgrade with a disallowed `Origin` is answered `403 Forbidden` and closed; one
 * without `Origin` (a non-browser client) goes on.
 * @returns true when the upgrade was refused.
 */
export function refuseUpgradeOrigin(policy: OriginPolicy, req: http.IncomingMessage, socket: Duplex): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || policy.allows(origin, req.headers.host)) return false;
  endRaw(socket, 403, refusalBody(origin), {}, req.method);
  return true;
}

/** The body of a refusal, shaped as the REST view's errors: `{ code, message }`. */
function refusalBody(origin: string): { code: 'FORBIDDEN'; message: string } {
  return { code: 'FORBIDDEN', message: refusal(origin) };
}

function refusal(origin: string): string {
  return `origin ${JSON.stringify(origin).slice(0, 200)} is not allowed: add it to CORS_ORIGINS (comma-separated origins, or *)`;
}
