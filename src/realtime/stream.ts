import { tracked, type TrackedEnvelope } from '@trpc/server';
import type { ScopeStreamEvent } from '../messages/events.js';
import { ScopeFeed, type FeedOptions } from './feed.js';
import type { WireEvent } from './wire.js';

/** What a conversation subscription needs, less the delivery callbacks. */
export type ScopeSubscriptionOptions = Omit<FeedOptions, 'emit' | 'fail'> & { signal: AbortSignal | undefined };

/**
 * What `messages.onEvent` returns: the checked, ready-to-start subscription of one user
 * to one conversation. The WebSocket handler (src/realtime/ws-handler.ts) recognises it and
 * writes each event's pre-encoded frame straight to the socket; any other transport
 * iterates it and gets `tracked(String(seq), event)` through tRPC, with the same feed
 * (src/realtime/feed.ts) behind both.
 */
export class ScopeSubscription<T = ScopeStreamEvent> implements AsyncIterable<TrackedEnvelope<T>> {
  constructor(readonly options: ScopeSubscriptionOptions) {}

  [Symbol.asyncIterator](): AsyncIterator<TrackedEnvelope<T>> {
    return iterate<T>(this.options);
  }
}

async function* iterate<T>(o: ScopeSubscriptionOptions): AsyncGenerator<TrackedEnvelope<T>> {
  const queue: WireEvent[] = [];
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const feed = new ScopeFeed({
    ...o,
    emit: (w) => {
      queue.push(w);
      wake?.();
      return true;
    },
    fail: (error) => {
      failure = { error };
      wake?.();
    },
  });
  const onAbort = () => wake?.();
  o.signal?.addEventListener('abort', onAbort);
  try {
    await feed.start();
    while (!o.signal?.aborted) {
      const w = queue.shift();
      if (w) {
        yield tracked(String(w.seq), w.event<T>());
        continue;
      }
      if (failure) throw (failure as { error: unknown }).error;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await feed.stop();
  }
}
