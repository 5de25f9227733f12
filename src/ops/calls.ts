import type { Logger } from 'pino';
import type { TRPCError } from '@trpc/server';
import { AppError, toTRPCCode } from '../errors.js';
import type { Metrics } from './metrics.js';

/** What a call learns on its way through the middlewares: who made it (set once authenticated). */
export interface CallRecord {
  userId: string | null;
}

/** Errors already logged as a call, so a transport's onError does not log them twice. */
const recorded = new WeakSet<object>();

/** The tRPC code a client sees for an error (a domain error's mapped code). */
export function codeOf(error: TRPCError): string {
  return error.cause instanceof AppError ? toTRPCCode(error.cause.code) : error.code;
}

/** Codes that are the server's fault (logged at `error`); every other code is the client's (at `info`). */
const SERVER_CODES = new Set(['INTERNAL_SERVER_ERROR', 'NOT_IMPLEMENTED', 'BAD_GATEWAY', 'SERVICE_UNAVAILABLE', 'GATEWAY_TIMEOUT']);

export interface CallLine {
  requestId: string;
  /** WebSocket calls: the connection they came on. */
  connectionId?: string;
  /** The tRPC path (`messages.send`), or null when the request named none that exists. */
  procedure: string | null;
  transport: 'http' | 'ws' | 'rest';
  userId: string | null;
  /** Duration in ms (for a subscription: until it started); null when the transport did not time it. */
  ms: number | null;
  /** `OK` or the tRPC error code the client got. */
  code: string;
}

/**
 * Logs one call as one pino line `call` (request id, procedure, transport, user id, ms,
 * code; never an input, output or token), at `info`, or `error` for a server error, and
 * counts it in the metrics (by procedure, transport and code, with its duration).
 */
export function recordCall(log: Logger, metrics: Metrics | null, line: CallLine, error?: TRPCError): void {
  if (error) recorded.add(error);
  if (SERVER_CODES.has(line.code)) log.error(line, 'call');
  else log.info(line, 'call');
  if (metrics && line.ms !== null) metrics.call(line.procedure ?? 'unknown', line.transport, line.code, line.ms / 1000);
}

/** True when the middleware already logged this error as a call. */
export function wasRecorded(error: TRPCError): boolean {
  return recorded.has(error);
}

/** ms with two decimals: enough for a log line. */
export const roundMs = (ms: number) => Math.round(ms * 100) / 100;
