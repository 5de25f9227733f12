import { getTRPCErrorFromUnknown, initTRPC, TRPCError } from '@trpc/server';
import { inputTransformer } from './input-transformer.js';
import { outputTransformer } from './output-transformer.js';
import type { ErrorData } from './error-shape.js';
import { z, ZodError } from 'zod';
import { AppError, invalid, toTRPCCode } from './errors.js';
import { limits } from './config.js';
import { servicesOf, type AppHandle } from './app.js';
import { guarded } from './realtime/guard.js';
import type { RestMeta } from './rest/meta.js';
import { recordCall, codeOf, roundMs, type CallRecord } from './ops/calls.js';
import { findBadText } from './guard/text.js';
import { withSseSlot } from './guard/sse-slots.js';
import { isUnavailable } from './guard/unavailable.js';
import { isTokenForm, MALFORMED_TOKEN } from './auth/token.js';
import { intMessages } from './guard/int-messages.js';

// ---------------------------------------------------------------- context

/**
 * The root context: transport fields only (request id, bearer token, transport) and the
 * opaque handle of the instance. Services come in through middleware below, so the
 * router type that ships in the SDK does not drag the server's types along.
 */
export interface Context {
  app: AppHandle;
  requestId: string;
  /** The bearer token as sent (HTTP Authorization header, or WebSocket connectionParams). */
  token: string | null;
  /** `/trpc` over HTTP, over WebSocket, or the REST view under `/api`. */
  transport: 'http' | 'ws' | 'rest';
  /** WebSocket calls: the connection's id (requestId is then the call's own). */
  connectionId?: string;
  /** The client's address (X-Forwarded-For only with TRUST_PROXY; src/guard/client-ip.ts). */
  ip: string;
}

// ---------------------------------------------------------------- initialization

const HTTP_STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
};
const JSONRPC_CODE: Record<string, number> = {
  BAD_REQUEST: -32600,
  UNAUTHORIZED: -32001,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  CONFLICT: -32009,
  PAYLOAD_TOO_LARGE: -32013,
  TOO_MANY_REQUESTS: -32029,
};

/** What a client is told when its request or input could not be read at all. */
const UNREADABLE_INPUT =
  'the request could not be read: send JSON with the input as superjson, `{ "json": <input> }` (a batch: `{ "0": { "json": … } }`), as @trpc/client does';

/** Stack traces stay in the server's log, never in a response. */
function withoutStack<T extends { stack?: string }>(data: T): Omit<T, 'stack'> {
  const { stack: _stack, ...rest } = data;
  return rest;
}

// Integers past 2^53 and fractions get a message a person can act on, in every input schema.
z.config({ customError: intMessages });

/** `meta.openapi` (trpc-to-openapi) places a query or mutation in the REST view under `/api`. */
const t = initTRPC.context<Context>().meta<RestMeta>().create({
  // Inputs without superjson meta are read as plain JSON (src/input-transformer.ts); outputs
  // are superjson's payload, written without its walk when they are JSON and Dates (src/output-transformer.ts).
  transformer: { input: inputTransformer, output: outputTransformer },
  // Subscriptions over SSE (GET /trpc/…): a ping comment every 15 s keeps proxies from
  // closing a quiet stream; httpSubscriptionLink reconnects after 30 s without one.
  sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 30_000 } },
  /**
   * One map from domain errors to tRPC codes (AppError → code), zod issues flattened with
   * a readable first line, and internal errors reduced to a generic message with the
   * request id (the details go to the log).
   */
  errorFormatter({ shape, error, ctx }) {
    const cause = error.cause;
    if (cause instanceof AppError) {
      const code = toTRPCCode(cause.code);
      return {
        ...shape,
        code: JSONRPC_CODE[code] ?? shape.code,
        message: cause.message,
        data: { ...withoutStack(shape.data), code, httpStatus: HTTP_STATUS[code] ?? 500, appCode: cause.code } satisfies ErrorData,
      };
    }
    if (error.code === 'BAD_REQUEST' && cause instanceof ZodError) {
      const first = cause.issues[0];
      const where = first?.path.length ? `${first.path.join('.')}: ` : '';
      // zod's own texts start "Invalid input: "; the line already says it.
      let what = first?.message.replace(/^Invalid input: /, '') ?? 'check the fields';
      if (first && !first.path.length && first.code === 'invalid_type' && first.expected === 'object' && /received undefined$/.test(first.message)) {
        what = 'this call takes an input object; send `{ "json": { … } }` with its fields';
      }
      return {
        ...shape,
        message: `invalid input: ${where}${what}`,
        data: { ...withoutStack(shape.data), appCode: 'Invalid', zodError: cause.flatten() } satisfies ErrorData,
      };
    }
    if (error.code === 'PAYLOAD_TOO_LARGE') {
      return { ...shape, message: `the request body is over the limit of ${limits.httpMaxBodyBytes} bytes`, data: withoutStack(shape.data) };
    }
    if (error.code === 'BAD_REQUEST' && error.message === 'Batch call exceeds maximum size') {
      return { ...shape, message: `a batch holds at most ${limits.batchMax} calls`, data: withoutStack(shape.data) };
    }
    if (error.code === 'BAD_REQUEST' && /Maximum call stack size exceeded/.test(error.message)) {
      return { ...shape, message: 'invalid input: it is nested too deeply', data: withoutStack(shape.data) };
    }
    if ((error.code === 'BAD_REQUEST' || error.code === 'PARSE_ERROR') && cause instanceof Error && !(cause instanceof ZodError) && error.message === cause.message) {
      // A library's own text (JSON.parse, superjson: "transformer.deserialize is not a
      // function") says nothing a client can act on; the log keeps it at debug level.
      return { ...shape, message: UNREADABLE_INPUT, data: withoutStack(shape.data) };
    }
    if (error.code === 'INTERNAL_SERVER_ERROR' && isUnavailable(cause)) {
      // PostgreSQL or Redis is down or restarting: a retry will do (503), it is not a bug of ours.
      return {
        ...shape,
        code: -32053,
        message: 'the service is briefly unavailable (its database or Redis is reconnecting); retry in a moment',
        data: { ...withoutStack(shape.data), code: 'SERVICE_UNAVAILABLE', httpStatus: 503 },
      };
    }
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      return {
        ...shape,
        message: `internal server error (request ${ctx?.requestId ?? 'unknown'})`,
        data: withoutStack(shape.data),
      };
    }
    return { ...shape, data: withoutStack(shape.data) };
  },
});

// ---------------------------------------------------------------- procedures

/**
 * Refuses, before any schema or service, an input holding a string PostgreSQL cannot
 * store (NUL, a lone surrogate; src/guard/text.ts). Every procedure starts with this, so
 * one check covers every string of every input, present and future.
 * @throws BAD_REQUEST `invalid input: <field>: text must not contain NUL (U+0000)`.
 */
async function refuseUnstorable(getRawInput: () => Promise<unknown>): Promise<void> {
  const issue = findBadText(await getRawInput());
  if (issue) {
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new TRPCError({ code: 'BAD_REQUEST', cause: invalid(`invalid input: ${where}${issue.message}`) });
  }
}

/**
 * Runs the rest of a call with the instance's services (`run` gets them and the call's
 * record), and records the call when it ends, however it ends: one log line and its
 * metrics (src/ops/calls.ts), on every transport. An error thrown by `run` is recorded
 * and thrown as the TRPCError the client gets.
 */
async function recorded<R extends { ok: true } | { ok: false; error: TRPCError }>(
  ctx: Context,
  path: string,
  run: (svc: ReturnType<typeof servicesOf>, call: CallRecord) => Promise<R>,
): Promise<R> {
  const svc = servicesOf(ctx.app);
  const call: CallRecord = { userId: null };
  const started = performance.now();
  const record = (error: TRPCError | undefined) => {
    const line = {
      requestId: ctx.requestId,
      ...(ctx.connectionId ? { connectionId: ctx.connectionId } : {}),
      procedure: path,
      transport: ctx.transport,
      userId: call.userId,
      ms: roundMs(performance.now() - started),
      code: error ? codeOf(error) : 'OK',
    };
    recordCall(svc.log, svc.metrics, line, error);
  };
  let result: R;
  try {
    result = await run(svc, call);
  } catch (cause) {
    const error = getTRPCErrorFromUnknown(cause);
    record(error);
    throw error;
  }
  record(result.ok ? undefined : result.error);
  return result;
}

export const router = t.router;

/**
 * Anyone may call: sign-up, sign-in, health. One middleware: the storable-text check,
 * then the services in `ctx.svc` and the call's record in `ctx.call` (tRPC copies the
 * options and the context at every middleware level, so the levels are kept few).
 */
export const publicProcedure = t.procedure.use(async ({ ctx, path, getRawInput, next }) => {
  await refuseUnstorable(getRawInput);
  return recorded(ctx, path, (svc, call) => next({ ctx: { svc, call } }));
});

/**
 * Needs a valid session. The token is checked on every call, so a session revoked or
 * expired while a WebSocket stays open stops working at once; a subscription, which
 * outlives its call, ends with UNAUTHORIZED when its session is revoked (on any
 * instance) or expires. One middleware, as publicProcedure's plus the session.
 * @throws UNAUTHORIZED without a valid token (`the bearer token is malformed: …` for a value
 *   that is not a token at all); TOO_MANY_REQUESTS for an HTTP (SSE)
 *   subscription past 50 open ones of the user on this instance.
 */
export const authedProcedure = t.procedure.use(async ({ ctx, path, type, signal, getRawInput, next }) => {
  await refuseUnstorable(getRawInput);
  return recorded(ctx, path, async (svc, call) => {
    // A value that cannot be a token is the client's mistake, not an ended session.
    if (ctx.token !== null && !isTokenForm(ctx.token)) throw new TRPCError({ code: 'UNAUTHORIZED', message: `the bearer token ${MALFORMED_TOKEN}` });
    const user = await svc.auth.authenticate(ctx.token);
    if (!user) {
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message: ctx.token ? 'your session has expired or was revoked; sign in again' : 'sign in first: send a bearer token',
      });
    }
    call.userId = user.id;
    const token = ctx.token!;
    const run = () => next({ ctx: { svc, call, user, token } });
    if (type !== 'subscription') return run();
    // HTTP (SSE) subscriptions are capped per user; WebSocket ones per socket (src/realtime/ws-handler.ts).
    const result = ctx.transport === 'http' ? await withSseSlot(svc, user.id, limits.sseSubscriptionsPerUser, signal, run) : await run();
    if (!result.ok) return result;
    return { ...result, data: guarded(result.data, (end) => svc.auth.watch(token, end)) };
  });
});
