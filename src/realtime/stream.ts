import { tracked, type TrackedEnvelope } from '@trpc/server';
import { invalid } from '../errors.js';
import type { ScopeEvent } from '../messages/events.js';
import type { MessageService } from '../messages/service.js';
import type { ScopeHub } from './hub.js';

export interface ScopeStreamOptions {
  hub: ScopeHub;
  messages: MessageService;
  scopeId: string;
  /** seq of the last event the client has (the tracked id it got); null to start live. */
  lastEventId: string | null | undefined;
  /** Reads the scope's current last seq. */
  currentSeq: () => Promise<number>;
  signal: AbortSignal | undefined;
  /** Events per database page while replaying. */
  pageSize: number;
}

/**
 * A conversation's events as a tRPC subscription: `tracked(String(seq), event)`.
 * It subscribes to the hub before it reads the database, replays what came after
 * `lastEventId`, then goes live, dropping what it already yielded (by seq) and
 * backfilling from the database when it sees a seq gap (a lost publish). So nothing
 * is missed and nothing is yielded twice.
 * @throws Invalid when `lastEventId` is ahead of the conversation.
 */
export async function* scopeEventStream(o: ScopeStreamOptions): AsyncGenerator<TrackedEnvelope<ScopeEvent>> {
  const queue: ScopeEvent[] = [];
  let wake: (() => void) | null = null;
  const onEvent = (ev: ScopeEvent) => {
    queue.push(ev);
    wake?.();
  };
  const onAbort = () => wake?.();
  o.signal?.addEventListener('abort', onAbort);
  const unsubscribe = await o.hub.subscribe(o.scopeId, onEvent);
  try {
    const current = await o.currentSeq();
    let last = current;
    if (o.lastEventId != null) {
      last = Number(o.lastEventId);
      if (last > current) {
        throw invalid(`lastEventId ${o.lastEventId} is ahead of this conversation (latest seq ${current}); resubscribe without it`);
      }
    }
    // Replay, page by page, then keep draining what arrives live.
    for (;;) {
      const page = await o.messages.eventsAfter(o.scopeId, last, o.pageSize);
      for (const ev of page) {
        yield tracked(String(ev.seq), ev);
        last = ev.seq;
      }
      if (page.length < o.pageSize) break;
    }
    while (!o.signal?.aborted) {
      const ev = queue.shift();
      if (!ev) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        continue;
      }
      if (ev.seq <= last) continue;
      if (ev.seq > last + 1) {
        for (const missed of await o.messages.eventsAfter(o.scopeId, last, ev.seq - last - 1, ev.seq - 1)) {
          yield tracked(String(missed.seq), missed);
          last = missed.seq;
        }
      }
      yield tracked(String(ev.seq), ev);
      last = ev.seq;
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await unsubscribe();
  }
}
