/**
 * Reads of the current last seq of conversations (or user streams), batched: the calls
 * made in one turn of the event loop share one query (`latestSeqs` over all their keys),
 * issued after the last of them, so each caller still reads the database after its own
 * bus subscription was active. A thousand subscriptions starting at once cost a few
 * queries instead of a thousand.
 */
export class SeqReads {
  private pending: Map<string, { resolve: (seq: number) => void; reject: (err: unknown) => void }[]> | null = null;

  constructor(
    /** Reads the last seq of each key (a key missing from the result counts as 0). */
    private readonly lastSeqs: (keys: string[]) => Promise<Map<string, number>>,
  ) {}

  /** The last seq of `key` (0 when it has none), read after this call. */
  get(key: string): Promise<number> {
    if (!this.pending) {
      this.pending = new Map();
      setImmediate((self: SeqReads) => self.flush(), this);
    }
    const waiting = this.pending.get(key) ?? [];
    if (waiting.length === 0) this.pending.set(key, waiting);
    return new Promise<number>((resolve, reject) => waiting.push({ resolve, reject }));
  }

  private flush() {
    const batch = this.pending!;
    this.pending = null;
    this.lastSeqs([...batch.keys()]).then(
      (seqs) => {
        for (const [key, waiting] of batch) for (const w of waiting) w.resolve(seqs.get(key) ?? 0);
      },
      (err: unknown) => {
        for (const waiting of batch.values()) for (const w of waiting) w.reject(err);
      },
    );
  }
}
