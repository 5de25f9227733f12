import type http from 'node:http';
import { callTRPCProcedure, getTRPCErrorFromUnknown, getTRPCErrorShape, transformTRPCResponse, TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { getHTTPStatusCode } from '@trpc/server/http';

/** Procedure paths, comma-separated in a batch, as the SDK writes them. */
export const PLAIN_PATHS = /^[A-Za-z0-9_.,]+$/;

/** Writes a tRPC answer in one `end`, with the headers tRPC's handler gives it. */
function send(res: http.ServerResponse, status: number, body: string): void {
  if (res.destroyed) return;
  res.statusCode = status;
  res.setHeader('vary', 'trpc-accept, accept');
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

/** A streaming call, as tRPC tells one: any `trpc-accept`, or `application/jsonl` among the `accept` types. */
function asksForStream(headers: http.IncomingHttpHeaders): boolean {
  if (headers['trpc-accept'] !== undefined) return true;
  return headers.accept?.split(',').some((t) => t.trim() === 'application/jsonl') ?? false;
}

/** The type of each procedure of `router` by path (`'query'`, `'mutation'`, `'subscription'`), undefined for no procedure. */
export function procedureTypes(router: AnyTRPCRouter): (path: string) => string | undefined {
  const procedures = router._def.procedures as Record<string, { _def: { type: string } } | undefined>;
  return (path) => (Object.hasOwn(procedures, path) ? procedures[path]!._def.type : undefined);
}

/**
 * The answer tRPC gives a request-level `error` (no path): its status and the JSON body of
 * its error shape (the router's errorFormatter, through its output transformer).
 */
export function requestErrorAnswer<TContext>(config: AnyTRPCRouter['_def']['_config'], ctx: TContext, error: TRPCError, type: 'query' | 'unknown'): { status: number; body: string } {
  const json = { error: getTRPCErrorShape({ config, ctx, error, input: undefined, path: undefined, type }) };
  return { status: getHTTPStatusCode(json, [error]), body: JSON.stringify(transformTRPCResponse(config, json)) };
}

/** No content type, or JSON: what tRPC reads a GET with (another type picks another of its readers). */
function jsonOrNone(type: string | undefined): boolean {
  return type === undefined || type.toLowerCase().split(';', 1)[0]!.trim() === 'application/json';
}

/**
 * The inputs of a call by batch index, as tRPC's JSON reader makes them: the `input`
 * parameter parsed, then each call's input deserialized (`deserialize`, the transformer's
 * input side). @throws SyntaxError for text that is not JSON; BAD_REQUEST for a batch
 * whose input is not an object.
 */
function parseInputs(raw: string | null, isBatch: boolean, count: number, deserialize: (v: unknown) => unknown): Record<number, unknown> {
  const parsed: unknown = raw ? JSON.parse(raw) : undefined;
  const acc: Record<number, unknown> = Object.create(null);
  if (parsed === undefined) return acc;
  if (!isBatch) {
    acc[0] = deserialize(parsed);
    return acc;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
  for (let i = 0; i < count; i++) {
    const one = (parsed as Record<number, unknown>)[i];
    if (one !== undefined) acc[i] = deserialize(one);
  }
  return acc;
}

/** What `queryHandler` needs: the router, tRPC's own handler for everything else, and the hooks tRPC's handler has. */
export interface QueryHandlerOptions<TRouter extends AnyTRPCRouter, TContext> {
  router: TRouter;
  /** The path prefix of tRPC over HTTP, with its slashes (`/trpc/`). */
  basePath: string;
  /** The most calls in one batch; a larger batch goes to `fallback` (which refuses it). */
  maxBatchSize: number;
  createContext: (req: http.IncomingMessage) => TContext;
  /** Called once per failed call (and once for an answer that could not be written: no path). */
  onError: (opts: { error: TRPCError; path: string | undefined; ctx: TContext }) => void;
  /** tRPC's standalone handler: it serves every request this one does not take. */
  fallback: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/**
 * tRPC queries over HTTP (`GET /trpc/<path>?input=…`, batched or not) answered without
 * tRPC's Fetch adapter: the standalone adapter turns each request into a Fetch `Request`
 * and each answer into a `Response` piped through a stream, about a fifth of the CPU of a
 * history page (bench/README.md, "History, one statement and one write"). The answer is
 * the one tRPC's `resolveResponse` gives, built from tRPC's public exports: each call runs
 * through `callTRPCProcedure` (so the middlewares, input and output checks are tRPC's),
 * an error is `getTRPCErrorFromUnknown` then `getTRPCErrorShape` (our errorFormatter),
 * the body is `transformTRPCResponse` (our output transformer) as JSON, the status is
 * `getHTTPStatusCode` (207 for a batch of mixed outcomes), with `content-type:
 * application/json` and `vary: trpc-accept, accept`, written in one `end`.
 *
 * Inputs are read as tRPC reads them: the `input` parameter is parsed and deserialized
 * (the transformer's `input`) when the first call asks for it, so an unreadable input is
 * the call's error (PARSE_ERROR), as with tRPC.
 *
 * Everything else goes to `fallback`, tRPC's own handler, unchanged: any method but GET,
 * a path that is not plain procedure names or not a query procedure of the router (unknown, a mutation, a subscription:
 * tRPC's NOT_FOUND, METHOD_NOT_SUPPORTED and SSE), a streaming call (`trpc-accept`, or
 * `application/jsonl` in `accept`) and a batch over `maxBatchSize`. Queries get no abort signal (only
 * subscriptions use one here).
 * @returns the handler: `(req, res) => void`, for requests whose URL starts with `basePath`.
 */
export function queryHandler<TRouter extends AnyTRPCRouter, TContext>(opts: QueryHandlerOptions<TRouter, TContext>) {
  const { router, basePath, maxBatchSize, createContext, onError, fallback } = opts;
  const config = router._def._config;
  const typeOf = procedureTypes(router);
  const isQuery = (path: string) => typeOf(path) === 'query';

  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '/';
    if (req.method !== 'GET' || asksForStream(req.headers) || !jsonOrNone(req.headers['content-type'])) return fallback(req, res);
    const q = url.indexOf('?');
    const pathPart = url.slice(basePath.length, q < 0 ? undefined : q);
    // Only plain procedure paths: anything tRPC would decode or normalise (%-escapes, slashes, a fragment) is tRPC's.
    if (!PLAIN_PATHS.test(pathPart) || url.includes('#')) return fallback(req, res);
    const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const isBatch = params.get('batch') === '1';
    const paths = isBatch ? pathPart.split(',') : [pathPart];
    if (paths.length > maxBatchSize || !paths.every(isQuery)) return fallback(req, res);

    const ctx = createContext(req);
    // As tRPC's: read once, on the first call's demand; a failure is every call's error, a
    // TRPCError as it is and anything else (JSON.parse) as BAD_REQUEST with its message.
    let inputs: Record<number, unknown> | null = null;
    let unreadable: TRPCError | null = null;
    const readInputs = (): Record<number, unknown> => {
      if (inputs) return inputs;
      if (unreadable) throw unreadable;
      try {
        return (inputs = parseInputs(params.get('input'), isBatch, paths.length, config.transformer.input.deserialize));
      } catch (cause) {
        throw (unreadable = cause instanceof TRPCError ? cause : new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause }));
      }
    };

    const calls = paths.map(async (path, batchIndex) => {
      try {
        const data = await callTRPCProcedure({ router, path, getRawInput: async () => readInputs()[batchIndex], ctx, type: 'query', signal: undefined, batchIndex });
        return { ok: { result: { data } } as const, error: undefined };
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        onError({ error, path, ctx });
        const input = inputs?.[batchIndex];
        return { ok: { error: getTRPCErrorShape({ config, ctx, error, input, path, type: 'query' }) }, error };
      }
    });
    void Promise.all(calls)
      .then((done) => {
        const untransformed = done.map((d) => d.ok);
        const errors = done.map((d) => d.error);
        const json = isBatch ? untransformed : untransformed[0]!;
        send(res, getHTTPStatusCode(json, errors as TRPCError[]), JSON.stringify(transformTRPCResponse(config, json)));
      })
      .catch((cause: unknown) => {
        // An answer that cannot be written (its transform threw): as tRPC's handler, one
        // error for the request, reported, with no path.
        const error = getTRPCErrorFromUnknown(cause);
        onError({ error, path: undefined, ctx });
        const { status, body } = requestErrorAnswer(config, ctx, error, 'query');
        send(res, status, body);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal server error');
      });
  };
}
