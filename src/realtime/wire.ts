import superjson from 'superjson';
import type { ScopeStreamEvent } from '../messages/events.js';

/**
 * A conversation event as it travels between instances and to sockets. It is
 * serialised once, where it is published: `payload` is the JSON text of
 * `superjson.serialize({ id: String(seq), data: event })`, exactly the `data` of a tRPC
 * tracked-data frame, so an instance writes it to every socket without re-encoding.
 */
export class WireEvent {
  private parsed: ScopeStreamEvent | undefined;
  private shared: Buffer | undefined;

  constructor(
    readonly scopeId: string,
    readonly seq: number,
    readonly payload: string,
    event?: ScopeStreamEvent,
  ) {
    this.parsed = event;
  }

  /** Serialises an event (once). */
  static of(event: ScopeStreamEvent): WireEvent {
    const payload = JSON.stringify(superjson.serialize({ id: String(event.seq), data: event }));
    return new WireEvent(event.scopeId, event.seq, payload, event);
  }

  /**
   * Reads a bus message (`<seq>\n<payload>`).
   * @throws Error for a message that is not in this format.
   */
  static decode(scopeId: string, raw: string): WireEvent {
    const nl = raw.indexOf('\n');
    const seq = Number(raw.slice(0, nl));
    if (nl < 1 || !Number.isSafeInteger(seq)) throw new Error('not a wire event');
    return new WireEvent(scopeId, seq, raw.slice(nl + 1));
  }

  /** The bus message. */
  encode(): string {
    return `${this.seq}\n${this.payload}`;
  }

  /** The event object, deserialised at most once per instance (for iterator subscribers). */
  event(): ScopeStreamEvent {
    this.parsed ??= (superjson.deserialize(JSON.parse(this.payload)) as { data: ScopeStreamEvent }).data;
    return this.parsed;
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
