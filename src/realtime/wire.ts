import superjson from 'superjson';
import { aboutSeq, endsAccessOf, type ScopeStreamEvent } from '../messages/events.js';

/**
 * A conversation event as it travels between instances and to sockets. It is
 * serialised once, where it is published: `payload` is the JSON text of
 * `superjson.serialize({ id: String(seq), data: event })`, exactly the `data` of a tRPC
 * tracked-data frame, so an instance writes it to every socket without re-encoding.
 */
export class WireEvent {
  private parsed: unknown;
  private shared: Buffer | undefined;
  /** @internal pre-encoded WebSocket frames of this event, by subscription head (src/realtime/frames.ts). */
  frameKey: string | undefined;
  /** @internal */
  frame: Buffer | undefined;
  /** @internal */
  frames: Map<string, Buffer> | undefined;

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
  ) {
    this.parsed = event;
  }

  /** Serialises a conversation event (once), with what feeds check without parsing it. */
  static of(event: ScopeStreamEvent): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(event.seq), data: event }));
    return new WireEvent(event.scopeId, event.seq, payload, event, aboutSeq(event), endsAccessOf(event));
  }

  /** Serialises any tracked event (once): `key` is its log (scope or user), `seq` its place in it. */
  static keyed(key: string, seq: number, event: unknown): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(seq), data: event }));
    return new WireEvent(key, seq, payload, event);
  }

  /**
   * Reads a bus message: `<seq>\n<payload>`, or `<seq>,<about>,<endsFor>\n<payload>` for an
   * event feeds must look at (see `about` and `endsFor`).
   * @throws Error for a message that is not in this format.
   */
  static decode(key: string, raw: string): WireEvent {
    const nl = raw.indexOf('\n');
    const head = raw.slice(0, nl);
    const comma = head.indexOf(',');
    const seq = Number(comma < 0 ? head : head.slice(0, comma));
    if (nl < 1 || !Number.isSafeInteger(seq)) throw new Error('not a wire event');
    if (comma < 0) return new WireEvent(key, seq, raw.slice(nl + 1));
    const [, about, endsFor] = head.split(',');
    return new WireEvent(key, seq, raw.slice(nl + 1), undefined, Number(about) || 0, endsFor || null);
  }

  /** The bus message. */
  encode(): string {
    if (this.about === 0 && this.endsFor === null) return `${this.seq}\n${this.payload}`;
    return `${this.seq},${this.about},${this.endsFor ?? ''}\n${this.payload}`;
  }

  /** The event object, deserialised at most once per instance (for iterator subscribers). */
  event<T = ScopeStreamEvent>(): T {
    this.parsed ??= (superjson.deserialize(JSON.parse(this.payload)) as { data: unknown }).data;
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
}
