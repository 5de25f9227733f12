import superjson from 'superjson';

/** One subscription over HTTP Server-Sent Events (tRPC's `GET /trpc/<path>?input=`), read with fetch. */
export interface SseSubscription {
  /** Resolves once the server sent its `connected` event. */
  connected: Promise<void>;
  /** The `data` of each event, deserialised (a tracked event's id travels in the SSE `id` field). */
  items: unknown[];
  /** Resolves once at least `n` items arrived (rejects when the stream ends first). */
  until(n: number): Promise<unknown[]>;
  /** Resolves with the tRPC code (`data.code`) of the `serialized-error` event that ended the stream, or null when it ended otherwise. */
  ended: Promise<string | null>;
  close(): void;
}

/**
 * Subscribes over SSE the way tRPC's httpSubscriptionLink does (an EventSource GET with
 * the superjson input in the query string), with a bearer token in the header, and
 * parses the event stream by hand: `event:` / `data:` / `id:` lines, blank-line framed.
 */
export function sseSubscribe(baseUrl: string, path: string, input: unknown, token: string): SseSubscription {
  const abort = new AbortController();
  const items: unknown[] = [];
  const waiters: { n: number; resolve: (v: unknown[]) => void; reject: (e: unknown) => void }[] = [];
  const arrived = () => {
    for (const w of [...waiters]) if (items.length >= w.n) waiters.splice(waiters.indexOf(w), 1), w.resolve(items.slice());
  };
  let onConnected!: () => void;
  const connected = new Promise<void>((r) => (onConnected = r));
  const query = encodeURIComponent(JSON.stringify(superjson.serialize(input)));
  const ended = (async (): Promise<string | null> => {
    const res = await fetch(`${baseUrl}/trpc/${path}?input=${query}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`SSE ${path}: HTTP ${res.status} ${await res.text()}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return null;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'connected') onConnected();
          else if (event === 'serialized-error') {
            const shape = superjson.deserialize(JSON.parse(data)) as { data?: { code?: string } } | null;
            return shape?.data?.code ?? 'UNKNOWN';
          } else if (event === 'message' && data) {
            items.push(superjson.deserialize(JSON.parse(data)));
            arrived();
          }
        }
      }
    } catch (err) {
      if (abort.signal.aborted) return null;
      throw err;
    }
  })();
  ended.catch(() => {});
  void ended.finally(() => {
    for (const w of waiters.splice(0)) w.reject(new Error(`SSE ${path} ended before ${w.n} items`));
  });
  const until = (n: number) => (items.length >= n ? Promise.resolve(items.slice()) : new Promise<unknown[]>((resolve, reject) => waiters.push({ n, resolve, reject })));
  return { connected, items, until, ended, close: () => abort.abort() };
}
