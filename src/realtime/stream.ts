import { tracked, type TrackedEnvelope } from '@trpc/server';
import type { ScopeStreamEvent } from '../messages/events.js';
import { ScopeFeed, type FeedOptions } from './feed.js';
import type { WireEvent } from './wire.js';
import { PushQueue } from './queue.js';

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
  const queue = new PushQueue<WireEvent>();
  const feed = new ScopeFeed({
    ...o,
    emit: (w) => {
      queue.push(w);
      return true;
    },
    fail: (error) => queue.fail(error),
  });
  try {
    await feed.start();
    for await (const w of queue.drain(o.signal)) yield tracked(String(w.seq), w.event<T>());
  } finally {
    await feed.stop();
  }
}
