import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/** A handler of one channel's messages. */
export type BusHandler = (message: string) => void;

/**
 * Cross-instance pub/sub. `subscribe` resolves once the subscription is active, so a
 * caller that subscribes before it reads the database misses nothing in between.
 * Delivery is at most once: a publish can be lost (Redis down, instance dying), and
 * readers repair gaps from the database by seq.
 */
export interface Bus {
  publish(channel: string, message: string): Promise<void>;
  /** Returns the function that removes this handler. */
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>>;
  /** Calls `cb` each time the bus comes back after a disconnection (messages may have been lost). */
  onReconnect(cb: () => void): void;
  close(): Promise<void>;
}

/** In-process bus for the embedded mode: one instance, no network. */
export class MemoryBus implements Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, message: string): Promise<void> {
    // Asynchronous like Redis, so a publisher never runs its subscribers inline.
    queueMicrotask(() => this.emitter.emit(channel, message));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    this.emitter.on(channel, handler);
    return async () => {
      this.emitter.off(channel, handler);
    };
  }

  onReconnect(): void {
    // An in-process bus never disconnects.
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * Redis pub/sub bus. One subscriber connection per process (a connection in subscriber
 * mode can run nothing else), feeding a local dispatcher; Redis channels are subscribed
 * while at least one local handler wants them (reference-counted).
 */
export class RedisBus implements Bus {
  private readonly sub: Redis;
  private readonly handlers = new Map<string, Set<BusHandler>>();
  /** Serialises SUBSCRIBE/UNSUBSCRIBE per channel so counts and Redis state agree. */
  private readonly pending = new Map<string, Promise<unknown>>();
  private readonly reconnectCallbacks: (() => void)[] = [];

  constructor(
    private readonly pub: Redis,
    private readonly prefix: string,
  ) {
    // The subscriber connection runs only (UN)SUBSCRIBE: no auto-pipelining there (ioredis
    // could queue another command behind a SUBSCRIBE on reconnect), and no ready check: its
    // INFO, sent on a connect that races a (re)subscribe, threw "Connection in subscriber
    // mode, only subscriber commands may be used" out of ioredis's event handler and took
    // the process down (seen in test/polls/close-killed.test.ts and the reliability test).
    this.sub = pub.duplicate({ enableAutoPipelining: false, enableReadyCheck: false });
    this.sub.on('error', () => {}); // reconnects by itself; readiness reports it
    let connectedOnce = false;
    this.sub.on('ready', () => {
      if (connectedOnce) for (const cb of this.reconnectCallbacks) cb();
      connectedOnce = true;
    });
    this.sub.on('message', (channel: string, message: string) => {
      const set = this.handlers.get(channel.slice(this.prefix.length));
      if (!set) return;
      for (const h of set) h(message);
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.pub.publish(this.prefix + channel, message);
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    await this.serial(channel, async () => {
      let set = this.handlers.get(channel);
      if (!set) {
        set = new Set();
        this.handlers.set(channel, set);
        try {
          await this.sub.subscribe(this.prefix + channel);
        } catch (err) {
          this.handlers.delete(channel);
          throw err;
        }
      }
      set.add(handler);
    });
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      await this.serial(channel, async () => {
        const set = this.handlers.get(channel);
        if (!set) return;
        set.delete(handler);
        if (set.size === 0) {
          this.handlers.delete(channel);
          await this.sub.unsubscribe(this.prefix + channel).catch(() => {});
        }
      });
    };
  }

  onReconnect(cb: () => void): void {
    this.reconnectCallbacks.push(cb);
  }

  private serial<T>(channel: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.pending.get(channel) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => {});
    this.pending.set(channel, settled);
    void settled.then(() => {
      if (this.pending.get(channel) === settled) this.pending.delete(channel);
    });
    return next;
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.sub.disconnect();
  }
}
