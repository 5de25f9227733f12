import type http from 'node:http';
import { TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { PLAIN_PATHS, procedureTypes, requestErrorAnswer } from './trpc-queries.js';

/** The methods /trpc serves. */
const ALLOW = 'GET, HEAD, POST, OPTIONS';
/** The methods a procedure of each type is served with (a subscription's GET is its event stream). */
const ALLOW_OF: Record<string, string> = { query: 'GET, HEAD, OPTIONS', mutation: 'POST, OPTIONS', subscription: 'GET, OPTIONS' };

/** `allow` for the procedure types a request names: those of its one type, else every method of /trpc. */
function allowOf(types: (string | undefined)[]): string {
  const known = new Set(types.filter((t) => t !== undefined));
  const [only] = known;
  return (known.size === 1 && ALLOW_OF[only!]) || ALLOW;
}
/** The request bodies /trpc reads: JSON (no procedure takes tRPC's FormData or octet-stream inputs). */
const BODY_TYPES = ['application/json'];

/** What `trpcMethodGate` needs: the router (its procedures and error formatter) and the hooks of the tRPC handlers behind it. */
export interface MethodGateOptions<TRouter extends AnyTRPCRouter, TContext> {
  router: TRouter;
  /** The path prefix of tRPC over HTTP, with its slashes (`/trpc/`). */
  basePath: string;
  createContext: (req: http.IncomingMessage) => TContext;
  /** Called once for each request refused here, as tRPC's handler calls it (no path). */
  onError: (opts: { error: TRPCError; path: string | undefined; ctx: TContext }) => void;
}

/**
 * The request rules of /trpc that tRPC's handler leaves loose, applied before it (a CORS
 * preflight is answered earlier, by src/http/cors.ts):
 * - `OPTIONS`: 204 with `allow` (RFC 9110 §9.3.7) naming the methods of the procedures'
 *   type (a query `GET, HEAD, OPTIONS`, a mutation `POST, OPTIONS`, a subscription `GET,
 *   OPTIONS`; types mixed or unknown: `GET, HEAD, POST, OPTIONS`); tRPC said 415.
 *   A path (or every path of a batch) that names no procedure is 404 NOT_FOUND, as its GET.
 * - another method (`PUT`, `DELETE`, `PATCH`, …): 405 METHOD_NOT_SUPPORTED with that
 *   `allow`; tRPC said 415 "Missing content-type header".
 * - a `POST` whose body is not JSON: 415 UNSUPPORTED_MEDIA_TYPE naming `Content-Type:
 *   application/json`; tRPC's 415 was JSON labelled `text/plain`, and a FormData or
 *   octet-stream body reached the input check as an object no procedure takes.
 * - a `POST` to a subscription (alone or in a batch): 405 with its `allow`; tRPC answered
 *   200 with an event stream whose one event was that error. A `POST` to queries only:
 *   405 with a query's `allow` (tRPC's said `GET` alone).
 * - `HEAD` (RFC 9110 §9.3.2: the GET without its body): the request goes on as a GET (Node
 *   drops the body of a HEAD's response), so it gets the GET's status: 404 for an unknown
 *   path, 207 for a batch with one, 400 for a batch mixing types. Only a path naming
 *   mutations, or subscriptions, and no other type is 405 with its method in `allow`, at
 *   once, where tRPC answered every HEAD 204 and a subscription's would be an endless event stream.
 * Each refusal is a tRPC error shape (our errorFormatter, through the output transformer)
 * as `application/json`, reported to `onError`.
 * @returns `(req, res) => boolean`: true when the request was answered here.
 */
export function trpcMethodGate<TRouter extends AnyTRPCRouter, TContext>(opts: MethodGateOptions<TRouter, TContext>) {
  const { router, basePath, createContext, onError } = opts;
  const config = router._def._config;
  const typeOf = procedureTypes(router);

  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, error: TRPCError, allow?: string) => {
    const ctx = createContext(req);
    onError({ error, path: undefined, ctx });
    const { status, body } = requestErrorAnswer(config, ctx, error, 'unknown');
    res.statusCode = status;
    if (allow) res.setHeader('allow', allow);
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  };

  /** The type of each call a URL names (one, or each of a `batch=1`), undefined for no procedure. */
  const callTypes = (url: string): (string | undefined)[] => {
    const q = url.indexOf('?');
    const batch = q >= 0 && new URLSearchParams(url.slice(q + 1)).get('batch') === '1';
    const pathPart = procedurePathOf(url, basePath);
    return (batch ? pathPart.split(',') : [pathPart]).map(typeOf);
  };

  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    switch (req.method) {
      case 'GET':
        return false;
      case 'POST': {
        const type = req.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
        const types = callTypes(req.url ?? '/');
        if (types.includes('subscription')) {
          // tRPC would answer 200 with an event stream whose only event is this error.
          refuse(req, res, new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: 'subscriptions are GET (server-sent events) or WebSocket, not POST' }), allowOf(types));
          return true;
        }
        if (types.includes('query') && types.every((t) => t === 'query' || t === undefined)) {
          // tRPC's own 405 says `allow: GET` alone.
          refuse(req, res, new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: 'queries are GET (or HEAD), not POST: send the input as ?input=, URL-encoded JSON' }), allowOf(types));
          return true;
        }
        if (type && BODY_TYPES.includes(type)) return false;
        const said = type ? `Content-Type ${type}` : 'no Content-Type';
        refuse(req, res, new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `a tRPC POST with ${said}: send the input as JSON with Content-Type: application/json, \`{ "json": <input> }\`, as @trpc/client does` }));
        return true;
      }
      case 'OPTIONS':
        if (callTypes(req.url ?? '/').every((t) => t === undefined)) {
          refuse(req, res, new TRPCError({ code: 'NOT_FOUND', message: `no procedure at ${procedurePathOf(req.url ?? '/', basePath)}` }));
          return true;
        }
        res.statusCode = 204;
        res.setHeader('allow', allowOf(callTypes(req.url ?? '/')));
        res.end();
        return true;
      case 'HEAD': {
        // The procedure types named, unknown paths left out (tRPC's own "Cannot mix" check counts the same).
        const known = new Set(callTypes(req.url ?? '/').filter((t) => t !== undefined));
        const [only] = known;
        if (known.size !== 1 || only === 'query') {
          // Queries, unknown paths, or types mixed (400 to any method): what the GET answers.
          req.method = 'GET';
          return false;
        }
        refuse(req, res, new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: `HEAD is answered for query procedures only; send ${only === 'mutation' ? 'POST' : 'GET'}` }), ALLOW_OF[only!]);
        return true;
      }
      default:
        refuse(req, res, new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: `${req.method} is not served on /trpc: queries are GET, mutations POST, subscriptions GET (server-sent events) or WebSocket` }), allowOf(callTypes(req.url ?? '/')));
        return true;
    }
  };
}

const trimSlashes = (p: string) => p.slice(p.startsWith('/') ? 1 : 0, p.endsWith('/') && p.length > 1 ? -1 : undefined);

/**
 * The procedure path (or comma-separated paths) of a request URL as tRPC's standalone
 * adapter reads it: the URL's pathname, one slash trimmed at each end, `basePath` cut off,
 * one slash trimmed at each end again, then %-decoded (an undecodable one stays as it is:
 * no procedure has it). `('/trpc/auth.me/?batch=1', '/trpc/')` → `auth.me`.
 */
function procedurePathOf(url: string, basePath: string): string {
  const q = url.indexOf('?');
  const plain = url.slice(basePath.length, q < 0 ? undefined : q);
  // The common case (what the SDK sends): nothing to trim or decode.
  if (url.startsWith(basePath) && PLAIN_PATHS.test(plain)) return plain;
  let pathname: string;
  try {
    pathname = new URL(url, 'http://localhost').pathname;
  } catch {
    pathname = url.split('?', 1)[0]!;
  }
  return decodeURIComponentSafe(trimSlashes(trimSlashes(pathname).slice(trimSlashes(basePath).length)));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * tRPC's handler with its request-level refusals (a batch that mixes types or is over the
 * limit, a broken %-escape, a streaming call not batched, a GET labelled multipart)
 * labelled as the JSON they are: tRPC builds them as a Fetch `Response` of a string with
 * no content type, which defaults to `text/plain;charset=UTF-8`. No answer of tRPC's is
 * meant as text/plain (its answers are JSON, JSON lines or server-sent events), so that
 * label alone is rewritten.
 * @returns a handler with the same signature as `handler`.
 */
export function jsonLabelled(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (name: string, value: number | string | readonly string[]) =>
      setHeader(name, name.toLowerCase() === 'content-type' && typeof value === 'string' && value.startsWith('text/plain') ? 'application/json' : value);
    handler(req, res);
  };
}
