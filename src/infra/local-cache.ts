/**
 * In-process caches of one instance: bounded, oldest first out. Nothing here is shared
 * between instances; what must be invalidated across them says how (a version in the key,
 * a bus message).
 */

/**
 * Sets `key` in `map`, first dropping the oldest entry (Maps keep insertion order) when
 * the map already holds `max` entries.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** A map with a time to live per entry (ms), holding at most `max` entries (the oldest go first). */
export class LocalCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(private readonly max: number) {}

  /** The entry of `key` while it is fresh, else null (a stale one is dropped). */
  get(key: string): V | null {
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.until > Date.now()) return e.value;
    this.entries.delete(key);
    return null;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Keeps `value` under `key` for `ttlMs`, as the newest entry. */
  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: Date.now() + ttlMs });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
}
