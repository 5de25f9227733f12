import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import type { AppErrorCode } from './errors.js';

/** zod's `flatten()` of the input issues: messages for the whole input and per top-level field. */
export interface FlattenedZodError {
  formErrors: string[];
  fieldErrors: { [field: string]: string[] | undefined };
}

/**
 * `error.data` of every error the server sends (src/trpc.ts, the error formatter); the
 * SDK types `err.data` with it after `isGuildhallError(err)`.
 */
export interface ErrorData {
  /** The tRPC code: BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, PAYLOAD_TOO_LARGE, … */
  code: TRPC_ERROR_CODE_KEY;
  /** The HTTP status the code maps to (400, 401, 403, 404, 409, 429, 413, 500 …). */
  httpStatus: number;
  /** The procedure, e.g. `messages.send`. */
  path?: string;
  /**
   * The domain code the service raised (src/errors.ts): `Invalid`, `Unauthorized`,
   * `Forbidden`, `NotFound`, `Conflict`, `TooLarge` or `RateLimited`; `Invalid` for input
   * that failed its schema. Absent for transport errors (a bad batch, a parse error).
   */
  appCode?: AppErrorCode;
  /** For input that failed its schema (BAD_REQUEST): the issues, flattened. */
  zodError?: FlattenedZodError;
}
