import type { z } from 'zod';

/**
 * Messages of our own for zod's integer checks, for every schema at once (installed with
 * `z.config({ customError })` in src/trpc.ts). `z.number().int()` refuses integers past
 * 2^53 − 1 with "Too big: expected int to be <=9007199254740991" and a fraction with
 * "Invalid input: expected int, received number"; these say what to send instead. Any
 * message a schema gives itself still wins, and every other issue keeps zod's text.
 * @returns the message, or undefined to keep zod's.
 */
export function intMessages(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'too_big' && issue.origin === 'int') return `must be a safe integer (≤ ${Number.MAX_SAFE_INTEGER})`;
  if (issue.code === 'too_small' && issue.origin === 'int') return `must be a safe integer (≥ ${Number.MIN_SAFE_INTEGER})`;
  if (issue.code === 'invalid_type' && issue.expected === 'int' && typeof issue.input === 'number' && Number.isFinite(issue.input)) return 'must be an integer';
  return undefined;
}
