/**
 * A queue that a callback fills and an async generator drains: the bridge from bus
 * listeners and feeds to tRPC's subscription iterators. `drain` ends when `signal` aborts;
 * after `fail(error)` it yields what is queued, then throws the error.
 */
export class PushQueue<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;
  private failure: { error: unknown } | null = null;
  private closed = false;

  /** @param max items kept at most; past it the oldest are dropped (for state-like events). */
  constructor(private readonly max = Number.POSITIVE_INFINITY) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.max) this.items.shift();
    this.wake?.();
  }

  /** Puts items before everything queued (an initial snapshot read after subscribing). */
  prepend(items: readonly T[]): void {
    this.items.unshift(...items);
    this.wake?.();
  }

  /** Ends `drain` after what is queued, also while it waits. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.wake?.();
  }

  async *drain(signal: AbortSignal | undefined): AsyncGenerator<T> {
    const onAbort = () => this.wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        if (this.items.length > 0) {
          yield this.items.shift()!;
          continue;
        }
        if (this.failure) throw this.failure.error;
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
