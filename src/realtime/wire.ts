import superjson from 'superjson';
import type { ScopeStreamEvent } from '../messages/events.js';

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
  /** When it was published after its commit (ms since the epoch; carried on the bus), for the delivery latency metric; undefined for an event read from the database. */
  publishedAt: number | undefined;

  constructor(
    /** The scope (conversation events) or user (user events) the event belongs to. */
    readonly key: string,
    readonly seq: number,
    readonly payload: string,
    event?: unknown,
  ) {
    this.parsed = event;
  }

  /** Serialises a conversation event (once), stamped with the time of its publish. */
  static of(event: ScopeStreamEvent): WireEvent {
    const wire = WireEvent.keyed(event.scopeId, event.seq, event);
    wire.publishedAt = Date.now();
    return wire;
  }

  /** Serialises any tracked event (once): `key` is its log (scope or user), `seq` its place in it. */
  static keyed(key: string, seq: number, event: unknown): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(seq), data: event }));
    return new WireEvent(key, seq, payload, event);
  }

  /**
   * Reads a bus message (`<seq> <publishedAt ms>\n<payload>`, or `<seq>\n<payload>` as
   * instances before the publish stamp sent it).
   * @throws Error for a message that is not in this format.
   */
  static decode(key: string, raw: string): WireEvent {
    const nl = raw.indexOf('\n');
    const sp = raw.lastIndexOf(' ', nl);
    const seq = Number(raw.slice(0, sp > 0 ? sp : nl));
    if (nl < 1 || !Number.isSafeInteger(seq)) throw new Error('not a wire event');
    const wire = new WireEvent(key, seq, raw.slice(nl + 1));
    if (sp > 0) {
      const at = Number(raw.slice(sp + 1, nl));
      if (Number.isSafeInteger(at)) wire.publishedAt = at;
    }
    return wire;
  }

  /** The bus message. */
  encode(): string {
    return this.publishedAt === undefined ? `${this.seq}\n${this.payload}` : `${this.seq} ${this.publishedAt}\n${this.payload}`;
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
