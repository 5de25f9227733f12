import { TRPCClientError } from '@trpc/client';

/** The tRPC error code (`data.code`) of a client error, or undefined for anything else. */
export function errCode(err: unknown): string | undefined {
  return err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined;
}

/** Awaits `p` and returns the tRPC code it failed with (undefined when it succeeded). */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    const code = errCode(err);
    if (code) return code;
    throw err;
  }
  return undefined;
}
