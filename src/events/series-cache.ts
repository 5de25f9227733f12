import { createHash } from 'node:crypto';
import type { EventRow, OverrideRow } from './expansion.js';

/*
 * The series rows and overrides a listing reads, kept in process between pages. An entry
 * is keyed by the calendar version of every scope it covers (drizzle/0042: a trigger
 * raises a scope's version on any write to its series or their overrides) and by the
 * window, so it is never stale: a page reads the versions first, in the same query as
 * the scopes, and a write made on any instance changes the key of the next page there
 * and everywhere else. Rows read after the versions are at least as new as they are.
 */

/** What a listing expands: series rows (as `EventReads.seriesIn` orders them), their overrides, and the key they were read under. */
export interface Listable {
  rows: EventRow[];
  overrides: Map<string, OverrideRow[]>;
  /** A short name of the scopes' versions and the window: equal names, equal rows. */
  version: string;
}

/** Scopes and their calendar versions, and the window, as one key. */
export function listableKey(scopes: readonly { id: string; version: string }[], fromMs: number, toMs: number): string {
  const parts = scopes.map((s) => `${s.id}:${s.version}`).sort();
  return createHash('sha256').update(`${parts.join(',')}|${fromMs}|${toMs}`).digest('base64url').slice(0, 16);
}

/**
 * A least-recently-used map of `Listable`s, bounded by the rows and overrides it holds in
 * all (`maxRows`), so a few large calendars cannot grow it without end.
 */
export class SeriesCache {
  private readonly entries = new Map<string, { value: Listable; size: number }>();
  private size = 0;

  constructor(private readonly maxRows = 50_000) {}

  /** The entry under `key`, now the most recently used, or undefined. */
  get(key: string): Listable | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /** Keeps `value` under its `version`, dropping the least recently used entries beyond the bound. */
  set(value: Listable): void {
    let size = value.rows.length;
    for (const o of value.overrides.values()) size += o.length;
    if (size > this.maxRows) return;
    const old = this.entries.get(value.version);
    if (old) {
      this.entries.delete(value.version);
      this.size -= old.size;
    }
    this.entries.set(value.version, { value, size });
    this.size += size;
    for (const [k, e] of this.entries) {
      if (this.size <= this.maxRows) break;
      this.entries.delete(k);
      this.size -= e.size;
    }
  }
}
