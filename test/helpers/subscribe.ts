/** What `collect` gathers from a subscription. */
export interface Collected<T> {
  items: T[];
  ids: (string | undefined)[];
  /** Date.now() at which each item arrived, index for index with `items`. */
  times: number[];
  /** Resolves once at least `n` items arrived (rejects on the subscription's error). */
  until(n: number): Promise<T[]>;
  /** Resolves with the error the subscription ended with. */
  error: Promise<unknown>;
  /** Resolves when the subscription has started on the server. */
  started: Promise<void>;
  stop(): void;
}

type Tracked<T> = { id?: string; data: T } | T;

/**
 * Subscribes and collects tracked events, with promises to await instead of sleeping.
 * `subscribe` is e.g. `(h) => client.messages.onEvent.subscribe(input, h)`.
 */
export function collect<T>(
  subscribe: (handlers: {
    onData: (d: Tracked<T>) => void;
    onError: (e: unknown) => void;
    onStarted: () => void;
  }) => { unsubscribe(): void },
): Collected<T> {
  const items: T[] = [];
  const ids: (string | undefined)[] = [];
  const times: number[] = [];
  const waiters: { n: number; resolve: (v: T[]) => void; reject: (e: unknown) => void }[] = [];
  let failed: unknown = null;
  let rejectError!: (e: unknown) => void;
  let resolveError!: (e: unknown) => void;
  const error = new Promise<unknown>((res, rej) => {
    resolveError = res;
    rejectError = rej;
  });
  void rejectError;
  let onStarted!: () => void;
  const started = new Promise<void>((r) => (onStarted = r));
  const sub = subscribe({
    onData(d) {
      const isTracked = typeof d === 'object' && d !== null && 'data' in d && 'id' in d;
      items.push(isTracked ? (d as { data: T }).data : (d as T));
      ids.push(isTracked ? (d as { id?: string }).id : undefined);
      times.push(Date.now());
      for (const w of [...waiters]) {
        if (items.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(items.slice());
        }
      }
    },
    onError(e) {
      failed = e;
      resolveError(e);
      for (const w of waiters.splice(0)) w.reject(e);
    },
    onStarted,
  });
  return {
    items,
    ids,
    times,
    error,
    started,
    until(n) {
      if (failed) return Promise.reject(failed);
      if (items.length >= n) return Promise.resolve(items.slice());
      return new Promise((resolve, reject) => waiters.push({ n, resolve, reject }));
    },
    stop: () => sub.unsubscribe(),
  };
}

import type { Message, ScopeStreamEvent } from '../../sdk/src/index.js';

/** The message of a message.created/edited event; fails the test for any other event. */
export function messageOf(e: ScopeStreamEvent): Message {
  if (e.type !== 'message.created' && e.type !== 'message.edited') throw new Error(`expected a message event, got ${e.type}`);
  return e.message;
}
