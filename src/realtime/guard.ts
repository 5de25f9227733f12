import { ScopeSubscription } from './stream.js';

/**
 * Something that can end a subscription from outside: it calls `end(error)` once (a
 * session revoked or expired, access to a scope gone) and returns the function that
 * stops it watching.
 */
export type Guard = (end: (error: unknown) => void) => Promise<() => void> | (() => void);

/**
 * Makes a subscription's result end with `guard`'s error. A conversation or user stream
 * (ScopeSubscription) takes the guard into its feed, so the WebSocket fast path keeps
 * working; any other async iterable is wrapped: its next value races the guard, and on
 * the guard's error the inner iterator's return() is called. A subscription must then let
 * go at once even while a next() waits (as `ephemeral` in src/realtime/router.ts does; an
 * async generator only lets go once its signal aborts, which SSE does not do for a
 * stream that ended). Anything else is returned as it is.
 */
export function guarded(data: unknown, guard: Guard): unknown {
  if (data instanceof ScopeSubscription) {
    data.options.guards = [...(data.options.guards ?? []), guard];
    return data;
  }
  if (data && typeof data === 'object' && Symbol.asyncIterator in data) return guardIterable(data as AsyncIterable<unknown>, guard);
  return data;
}

async function* guardIterable<T>(iterable: AsyncIterable<T>, guard: Guard): AsyncGenerator<T> {
  let fail!: (error: unknown) => void;
  const ended = new Promise<never>((_, reject) => (fail = reject));
  ended.catch(() => {});
  const unguard = await guard((error) => fail(error));
  const iterator = iterable[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), ended]);
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    unguard();
    // Not awaited: a pending next() settles once the transport aborts the call's signal.
    if (!finished) void iterator.return?.(undefined)?.catch?.(() => {});
  }
}
