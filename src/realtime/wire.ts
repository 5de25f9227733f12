import superjson from 'superjson';
import { aboutSeq, endsAccessOf, type ScopeStreamEvent } from '../messages/events.js';
import { compactEvent } from './compact.js';

/**
 * A conversation event as it travels between instances and to sockets. It is
 * serialised once, where it is published: `payload` is the JSON text of
 * `superjson.serialize({ id: String(seq), data: event })`, exactly the `data` of a tRPC
 * tracked-data frame, so an instance writes it to every socket without re-encoding.
 */
export class WireEvent {
  private parsed: unknown;
  private shared: Buffer | undefined;
  private sharedCompact: Buffer | undefined;
  /** @internal pre-encoded WebSocket frames of this event, by subscription head (src/realtime/frames.ts). */
  frameKey: string | undefined;
  /** @internal */
  frame: Buffer | undefined;
  /** @internal */
  frames: Map<string, Buffer> | undefined;
  /** When it was published after its commit (ms since the epoch; carried on the bus), for the delivery latency metric; undefined for an event read from the database. */
  publishedAt: number | undefined;

  constructor(
    /** The scope (conversation events) or user (user events) the event belongs to. */
    readonly key: string,
    readonly seq: number,
    readonly payload: string,
    event?: unknown,
    /** The seq of the earlier message the event is about (events.ts `aboutSeq`); 0: none. */
    readonly about = 0,
    /** The user whose access ends with this event (their own member.left); null: nobody. */
    readonly endsFor: string | null = null,
    /**
     * True when what a subscriber may see of this event depends on who it is (live results
     * of an `afterVote` poll or survey): feeds then read it from the log, where it is
     * shaped per receiver, instead of writing these shared bytes.
     */
    readonly personal = false,
  ) {
    this.parsed = event;
  }

  /**
   * Serialises a conversation event (once), with what feeds check without parsing it,
   * stamped with the time of its publish; `personal`: see the field.
   */
  static of(event: ScopeStreamEvent, personal = false): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(event.seq), data: event }));
    const wire = new WireEvent(event.scopeId, event.seq, payload, event, aboutSeq(event), endsAccessOf(event), personal);
    wire.publishedAt = Date.now();
    return wire;
  }

  /** Serialises any tracked event (once): `key` is its log (scope or user), `seq` its place in it. */
  static keyed(key: string, seq: number, event: unknown): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(seq), data: event }));
    return new WireEvent(key, seq, payload, event);
  }

  /**
   * Reads a bus message: `<head>\n<payload>`, where the head is `<seq>` (`<seq>p` for a
   * personal event), then `,<about>,<endsFor>` for an event feeds must look at (see `about`
   * and `endsFor`), then ` <publishedAt ms>` when the publisher stamped it.
   * @throws Error for a message that is not in this format.
   */
  static decode(key: string, raw: string): WireEvent {
    const nl = raw.indexOf('\n');
    const head = raw.slice(0, nl);
    const sp = head.indexOf(' ');
    const core = sp < 0 ? head : head.slice(0, sp);
    const comma = core.indexOf(',');
    const first = comma < 0 ? core : core.slice(0, comma);
    const personal = first.endsWith('p');
    const seq = Number(personal ? first.slice(0, -1) : first);
    if (nl < 1 || !Number.isSafeInteger(seq)) throw new Error('not a wire event');
    let about = 0;
    let endsFor: string | null = null;
    if (comma >= 0) {
      const parts = core.split(',');
      about = Number(parts[1]) || 0;
      endsFor = parts[2] || null;
    }
    const wire = new WireEvent(key, seq, raw.slice(nl + 1), undefined, about, endsFor, personal);
    if (sp > 0) {
      const at = Number(head.slice(sp + 1));
      if (Number.isSafeInteger(at)) wire.publishedAt = at;
    }
    return wire;
  }

  /** The bus message (`<seq>\n<payload>`, or `<seq>p\n<payload>` for a personal event). */
  encode(): string {
    const first = `${this.seq}${this.personal ? 'p' : ''}`;
    const core = this.about === 0 && this.endsFor === null ? first : `${first},${this.about},${this.endsFor ?? ''}`;
    return this.publishedAt === undefined ? `${core}\n${this.payload}` : `${core} ${this.publishedAt}\n${this.payload}`;
  }

  /** The event object, deserialised at most once per instance (for iterator subscribers and compact frames). */
  event<T = ScopeStreamEvent>(): T {
    this.parsed ??= (deserialize(this.payload) as { data: unknown }).data;
    return this.parsed as T;
  }

  /**
   * The tail of a tRPC tracked-data frame, the same bytes for every subscriber:
   * `<seq>","data":<payload>}}`. A subscriber prepends its own
   * `{"id":<subscription id>,"result":{"type":"data","id":"`.
   */
  frameTail(): Buffer {
    this.shared ??= Buffer.from(`${this.seq}","data":${this.payload}}}`);
    return this.shared;
  }

  /**
   * frameTail() with the compact form of a conversation event as `data`
   * (src/realtime/compact.ts), built once per event and instance; the superjson payload
   * when the event does not compact.
   */
  compactTail(): Buffer {
    if (!this.sharedCompact) {
      const compact = compactEvent(this.event());
      this.sharedCompact = compact ? Buffer.from(`${this.seq}","data":${JSON.stringify(compact)}}}`) : this.frameTail();
    }
    return this.sharedCompact;
  }
}

/**
 * superjson.deserialize(JSON.parse(text)), without superjson's walk for the usual payload,
 * whose only non-JSON values are Dates (meta `values` of `["Date"]` by dotted path): those
 * are set in place. Anything else (another type, referential equalities, a key holding a
 * dot) goes through superjson. The profile of an end-to-end run showed superjson's walk
 * at about a third of a millisecond per event on a busy host.
 */
function deserialize(text: string): unknown {
  const parsed = JSON.parse(text) as { json: unknown; meta?: { values?: unknown; referentialEqualities?: unknown } };
  const meta = parsed.meta;
  if (!meta) return parsed.json;
  const values = meta.values;
  const datesOnly =
    meta.referentialEqualities === undefined &&
    typeof values === 'object' &&
    values !== null &&
    !Array.isArray(values) &&
    Object.entries(values).every(([path, t]) => !path.includes('\\') && Array.isArray(t) && t.length === 1 && t[0] === 'Date');
  if (!datesOnly) return superjson.deserialize(parsed as never);
  for (const path of Object.keys(values)) {
    const keys = path.split('.');
    let at = parsed.json as Record<string, unknown>;
    for (let i = 0; i < keys.length - 1; i++) at = at[keys[i]!] as Record<string, unknown>;
    const last = keys[keys.length - 1]!;
    at[last] = new Date(at[last] as string);
  }
  return parsed.json;
}
