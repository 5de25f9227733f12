import { rateLimited } from '../errors.js';

/** Open HTTP (SSE) subscriptions per user, per server instance (keyed by its services). */
const open = new WeakMap<object, Map<string, number>>();

/**
 * Takes one of `max` SSE subscription slots of `userId` on the instance `owner`.
 * WebSocket subscriptions are capped per socket (and sockets per user) by the socket
 * handler; an SSE subscription is an HTTP request of its own, so it is capped here.
 * @returns the release function (safe to call twice).
 * @throws RateLimited (TOO_MANY_REQUESTS) when the user already holds `max`.
 */
export function takeSseSlot(owner: object, userId: string, max: number): () => void {
  let byUser = open.get(owner);
  if (!byUser) open.set(owner, (byUser = new Map()));
  const n = byUser.get(userId) ?? 0;
  if (n >= max) {
    throw rateLimited(`too many HTTP subscriptions: at most ${max} per user; close one, or use the WebSocket (200 per connection)`);
  }
  byUser.set(userId, n + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (byUser.get(userId) ?? 1) - 1;
    if (left <= 0) byUser.delete(userId);
    else byUser.set(userId, left);
  };
}

/** `source`, releasing the slot when it ends, fails or its reader goes away. */
export async function* releasing<T>(source: AsyncIterable<T>, release: () => void): AsyncGenerator<T> {
  try {
    yield* source;
  } finally {
    release();
  }
}

/**
 * The middleware body: holds a slot for an HTTP subscription from its start until its
 * stream ends or the request is aborted (an aborted request may never start iterating).
 */
export async function withSseSlot<R extends { ok: boolean; data?: unknown }>(
  owner: object,
  userId: string,
  max: number,
  signal: AbortSignal | undefined,
  next: () => Promise<R>,
): Promise<R> {
  const release = takeSseSlot(owner, userId, max);
  let result: R;
  try {
    result = await next();
  } catch (err) {
    release();
    throw err;
  }
  if (!result.ok || !result.data || typeof (result.data as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    release();
    return result;
  }
  if (signal?.aborted) release();
  else signal?.addEventListener('abort', release, { once: true });
  return { ...result, data: releasing(result.data as AsyncIterable<unknown>, release) };
}
