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

  constructor(
    /** The scope (conversation events) or user (user events) the event belongs to. */
    readonly key: string,
    readonly seq: number,
    readonly payload: string,
    event?: unknown,
    /**
     * True when what a subscriber may see of this event depends on who it is (live results
     * of an `afterVote` poll or survey): feeds then read it from the log, where it is
     * shaped per receiver, instead of writing these shared bytes.
     */
    readonly personal = false,
  ) {
    this.parsed = event;
  }

  /** Serialises a conversation event (once); `personal`: see the field. */
  static of(event: ScopeStreamEvent, personal = false): WireEvent {
    if (!personal) return WireEvent.keyed(event.scopeId, event.seq, event);
    const payload = JSON.stringify(superjson.serialize({ id: String(event.seq), data: event }));
    return new WireEvent(event.scopeId, event.seq, payload, event, true);
  }

  /** Serialises any tracked event (once): `key` is its log (scope or user), `seq` its place in it. */
  static keyed(key: string, seq: number, event: unknown): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(seq), data: event }));
    return new WireEvent(key, seq, payload, event);
  }

  /**
   * Reads a bus message (`<seq>\n<payload>`).
   * @throws Error for a message that is not in this format.
   */
  static decode(key: string, raw: string): WireEvent {
    const nl = raw.indexOf('\n');
    const personal = raw.charCodeAt(nl - 1) === 112; // 'p': `<seq>p\n<payload>`
    const seq = Number(raw.slice(0, personal ? nl - 1 : nl));
    if (nl < 1 || !Number.isSafeInteger(seq)) throw new Error('not a wire event');
    return new WireEvent(key, seq, raw.slice(nl + 1), undefined, personal);
  }

  /** The bus message (`<seq>\n<payload>`, or `<seq>p\n<payload>` for a personal event). */
  encode(): string {
    return `${this.seq}${this.personal ? 'p' : ''}\n${this.payload}`;
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
