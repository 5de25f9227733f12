import type http from 'node:http';
import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { ZodError, type z } from 'zod';
import type { Context } from '../trpc.js';
import { RestRoutes, type RestMethod } from './routes.js';
import { restInput, restJson } from './json.js';

export interface RestHandlerOptions {
  router: AnyRouter;
  /** The root context of one request (transport `rest`). */
  createContext: (req: http.IncomingMessage) => Context;
  /** Request bodies over this many bytes get 413 PAYLOAD_TOO_LARGE. */
  maxBodyBytes: number;
  /** Told about every failed call (as tRPC's onError), e.g. to log internal errors. */
  onError?: (o: { error: TRPCError; path: string | undefined; ctx: Context }) => void;
  /**
   * Told about a request that never reached a procedure (no route, unreadable body),
   * with the code it got, so it is logged like a call.
   */
  onRejected?: (o: { ctx: Context; method: string; path: string; code: string; ms: number }) => void;
}

/** The body of every REST error: tRPC's code, the readable message, and the zod issues of bad input. */
export interface RestError {
  code: string;
  message: string;
  issues?: z.core.$ZodIssue[];
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Serves every query and mutation that has `meta.openapi` as REST with plain JSON under
 * `/api` (the paths and methods of its meta, relative to `/api`). A request runs the
 * procedure through tRPC's own `callProcedure`, so middlewares, input and output schemas
 * and the error formatter are the same as on `/trpc`. Inputs come from path parameters
 * plus the query string (GET, DELETE) or the JSON body (POST, PUT, PATCH); dates and
 * bigints travel as strings (src/rest/json.ts). Errors answer with the HTTP status of
 * their code and `{ code, message, issues? }`.
 *
 * Why not trpc-to-openapi's own handler: it turns on zod's coercion by mutating the
 * input schemas in place on the first request (`Boolean("false")` is true, and the
 * mutation also loosens `/trpc` and WebSocket inputs), and it replaces the message of bad
 * input with "Input validation failed". Its document generator and meta are used as is.
 */
export function createRestHandler(o: RestHandlerOptions): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const routes = new RestRoutes(o.router);
  const config = o.router._def._config;

  return async (req, res) => {
    const started = performance.now();
    const ctx = o.createContext(req);
    const asked = req.method ?? 'GET';
    // A HEAD is its GET without the body (RFC 9110 §9.3.2: Node drops the body of a HEAD's answer).
    const method = asked === 'HEAD' ? 'GET' : asked;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/api(?=\/|$)/, '') || '/';
    const send = (status: number, json: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': ctx.requestId, ...headers });
      res.end(json);
    };
    const reject = (status: number, code: string, message: string, headers?: Record<string, string>) => {
      o.onRejected?.({ ctx, method, path, code, ms: performance.now() - started });
      send(status, JSON.stringify({ code, message } satisfies RestError), headers);
    };

    let found;
    try {
      found = routes.match(method, path);
    } catch {
      return reject(400, 'BAD_REQUEST', 'a path parameter has a malformed %-escape');
    }
    if ('allowed' in found) {
      // `…/messages/$MESSAGE` with MESSAGE unset ends in `/`: say so rather than only "no route".
      const hint = /.\/$/.test(path) ? '; the path has an empty segment: is a variable in it unset?' : '';
      if (found.allowed.length === 0) return reject(404, 'NOT_FOUND', `no REST route ${asked} /api${path}; the routes are in /openapi.json${hint}`);
      const allow = allowHeader(found.allowed);
      if (asked === 'OPTIONS') {
        // RFC 9110 §9.3.7 (a CORS preflight was answered before this handler).
        res.writeHead(204, { allow, 'x-request-id': ctx.requestId });
        return void res.end();
      }
      return reject(405, 'METHOD_NOT_SUPPORTED', `${asked} is not served on /api${path}; use ${allow}${hint}`, { allow });
    }
    const { route, params } = found;

    let raw: Record<string, unknown>;
    if (BODY_METHODS.has(method)) {
      const body = await readBody(req, o.maxBodyBytes);
      if (body.kind === 'tooLarge') return reject(413, 'PAYLOAD_TOO_LARGE', `the request body is over the limit of ${o.maxBodyBytes} bytes`);
      // Nobody to answer: logged as a call the client gave up (499, as tRPC's code), not as a failure.
      if (body.kind === 'gone') return void o.onRejected?.({ ctx, method, path, code: 'CLIENT_CLOSED_REQUEST', ms: performance.now() - started });
      if (body.kind === 'text' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        return reject(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with content-type: application/json');
      }
      if (body.kind === 'text') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.text);
        } catch (err) {
          return reject(400, 'PARSE_ERROR', `the body is not valid JSON: ${(err as Error).message}`);
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return reject(400, 'BAD_REQUEST', 'the body must be a JSON object whose fields are the inputs');
        }
        raw = parsed as Record<string, unknown>;
      } else {
        raw = {};
      }
    } else {
      raw = queryObject(url.searchParams);
    }
    // Path parameters win over fields of the same name in the body or query.
    let input: unknown = { ...raw, ...params };
    const fromQuery = !BODY_METHODS.has(method);
    for (const parser of route.procedure._def.inputs as z.core.$ZodType[]) input = restInput(parser, input, fromQuery);

    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const data = await callTRPCProcedure({
        router: o.router,
        path: route.procedurePath,
        getRawInput: async () => input,
        ctx,
        type: route.type,
        signal: abort.signal,
        batchIndex: 0,
      });
      send(200, restJson(data));
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      o.onError?.({ error, path: route.procedurePath, ctx });
      const shape = getErrorShape({ config, error, type: route.type, path: route.procedurePath, input, ctx }) as {
        message: string;
        data?: { code?: string; httpStatus?: number };
      };
      const body: RestError = { code: shape.data?.code ?? error.code, message: shape.message };
      if (error.cause instanceof ZodError) body.issues = error.cause.issues;
      send(shape.data?.httpStatus ?? 500, restJson(body));
    }
  };
}

/** The `allow` header of a path served with `methods`: those, HEAD where GET is, and OPTIONS, sorted. */
function allowHeader(methods: readonly string[]): string {
  const all = new Set([...methods, 'OPTIONS']);
  if (all.has('GET')) all.add('HEAD');
  return [...all].sort().join(', ');
}

/** Query parameters as an object; a repeated key becomes an array. */
function queryObject(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = all.length === 1 ? all[0] : all;
  }
  return out;
}

type Body = { kind: 'empty' } | { kind: 'text'; text: string } | { kind: 'tooLarge' } | { kind: 'gone' };

/**
 * Reads the body up to `max` bytes; past it stops keeping bytes (the rest is drained) and
 * says so. A client that closes the connection before the whole body came is `gone`.
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) {
      req.resume();
      return resolve({ kind: 'tooLarge' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd).off('error', onError);
      req.resume();
      resolve({ kind: 'tooLarge' });
    };
    const onEnd = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve(text.trim() === '' ? { kind: 'empty' } : { kind: 'text', text });
    };
    // Node's IncomingMessage fails with ECONNRESET ("aborted") when the connection ends mid-body.
    const onError = (err: Error) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve({ kind: 'gone' }) : reject(err));
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
