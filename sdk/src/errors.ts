import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../src/router.js';
import type { ErrorData } from '../../src/error-shape.js';

export type { ErrorData as GuildhallErrorData, FlattenedZodError } from '../../src/error-shape.js';
export type { AppErrorCode } from '../../src/errors.js';

/** A failed call of the Guildhall API, with its `data` typed. */
export type GuildhallError = TRPCClientError<AppRouter> & { readonly data: ErrorData };

/**
 * True when `err` is an error the server answered with (not a network failure or a bug
 * in the caller), and narrows it: `err.data.code` is the tRPC code (`'NOT_FOUND'`, …),
 * `err.data.appCode` the domain code (`'NotFound'`, …), `err.data.zodError` the input
 * issues of a BAD_REQUEST, `err.message` a sentence a person can act on.
 *
 * @example
 * try {
 *   await client.messages.send.mutate({ scopeId, body });
 * } catch (err) {
 *   if (isGuildhallError(err) && err.data.code === 'TOO_MANY_REQUESTS') showSlowDown(err.message);
 *   else throw err;
 * }
 */
export function isGuildhallError(err: unknown): err is GuildhallError {
  if (!(err instanceof TRPCClientError)) return false;
  const data: unknown = err.data;
  return typeof data === 'object' && data !== null && typeof (data as { code?: unknown }).code === 'string';
}

/** The tRPC code of a failed call (`'NOT_FOUND'`, …), or undefined when it is not a server's answer. */
export function errorCodeOf(err: unknown): ErrorData['code'] | undefined {
  return isGuildhallError(err) ? err.data.code : undefined;
}
