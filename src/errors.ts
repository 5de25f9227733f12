/**
 * The one domain error type. Services throw it; the tRPC error formatter maps
 * its code to a TRPCError code (see `toTRPCCode`), so no service imports tRPC
 * and no raw database error reaches a client.
 */
export type AppErrorCode =
  | 'Invalid' // BAD_REQUEST
  | 'Unauthorized' // UNAUTHORIZED
  | 'Forbidden' // FORBIDDEN
  | 'NotFound' // NOT_FOUND
  | 'Conflict' // CONFLICT
  | 'TooLarge' // PAYLOAD_TOO_LARGE
  | 'RateLimited'; // TOO_MANY_REQUESTS

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Shorthands: `throw invalid('body must not be empty')`. */
export const invalid = (msg: string) => new AppError('Invalid', msg);
export const unauthorized = (msg: string) => new AppError('Unauthorized', msg);
export const forbidden = (msg: string) => new AppError('Forbidden', msg);
export const notFound = (msg: string) => new AppError('NotFound', msg);
export const conflict = (msg: string) => new AppError('Conflict', msg);
export const tooLarge = (msg: string) => new AppError('TooLarge', msg);
export const rateLimited = (msg: string) => new AppError('RateLimited', msg);

const TRPC_CODES = {
  Invalid: 'BAD_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  TooLarge: 'PAYLOAD_TOO_LARGE',
  RateLimited: 'TOO_MANY_REQUESTS',
} as const;

/** Maps a domain error code to the tRPC error code sent to clients. */
export function toTRPCCode(code: AppErrorCode): (typeof TRPC_CODES)[AppErrorCode] {
  return TRPC_CODES[code];
}
