import { rateLimited } from '../errors.js';

const busy = () => rateLimited('the server is busy checking passwords; try again in a few seconds (retry-after: 2)');

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Bounds the password hashes (scrypt, ~50 ms of a core each) run at once, so a flood of
 * sign-ins cannot take every core and the libuv pool from the rest of the server.
 * At most `concurrency` run; up to `maxQueued` more wait, in one line per client address,
 * served round-robin, so a client with many waiting hashes does not delay another's one.
 * When the queue is full, a newcomer takes the place of the newest waiter of the address
 * with the most waiting (that one is refused); a newcomer from that address is refused
 * itself. A flood from a few addresses thus fills only its own share, and a correct
 * sign-in from elsewhere waits for about one hash. Refusals are TOO_MANY_REQUESTS, before
 * any CPU is spent.
 */
export class HashQueue {
  private running = 0;
  private waitingCount = 0;
  /** Waiting hashes by client address, and the addresses in their round-robin order. */
  private readonly lines = new Map<string, Waiter[]>();
  private readonly order: string[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {}

  /**
   * Runs `hash` for the client `key` (its address) when its turn comes.
   * @throws RateLimited (TOO_MANY_REQUESTS) when the queue is full and `key` has as many
   *   waiting as any other address, or when a newcomer from elsewhere takes its place.
   */
  async run<T>(key: string, hash: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (this.waitingCount >= this.maxQueued) this.evictFor(key);
      await new Promise<void>((resolve, reject) => {
        const line = this.lines.get(key);
        if (line) line.push({ resolve, reject });
        else {
          this.lines.set(key, [{ resolve, reject }]);
          this.order.push(key);
        }
        this.waitingCount++;
      });
    }
    try {
      return await hash();
    } finally {
      this.next();
    }
  }

  /** Hashes running and waiting now (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waitingCount };
  }

  private evictFor(key: string) {
    let biggest: string | null = null;
    for (const [k, line] of this.lines) if (!biggest || line.length > this.lines.get(biggest)!.length) biggest = k;
    const mine = this.lines.get(key)?.length ?? 0;
    if (!biggest || this.lines.get(biggest)!.length <= mine + 1) throw busy();
    const line = this.lines.get(biggest)!;
    line.pop()!.reject(busy());
    this.waitingCount--;
  }

  /** Hands the finished hash's slot to the next address in turn. */
  private next() {
    for (;;) {
      const key = this.order.shift();
      if (key === undefined) {
        this.running--;
        return;
      }
      const line = this.lines.get(key)!;
      const waiter = line.shift();
      if (line.length > 0) this.order.push(key);
      else this.lines.delete(key);
      if (!waiter) continue;
      this.waitingCount--;
      waiter.resolve();
      return;
    }
  }
}
