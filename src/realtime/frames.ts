import * as ws from 'ws';
import type { WebSocket } from 'ws';
import type { Socket } from 'node:net';
import type { WireEvent } from './wire.js';

/**
 * Pre-encoded WebSocket frames, as Socket.IO 4.8 does for broadcasts
 * (https://github.com/websockets/ws/issues/617#issuecomment-283002469): a frame (header
 * and payload in one buffer) is built once per event and subscription head, and each
 * socket gets it in one write, so no socket pays for framing, copying or a cork/writev.
 * This leans on `ws` internals (`WebSocket.Sender.frame`, `socket._socket`, and a sender
 * that queues only while compressing or reading a Blob); `ws` is pinned and
 * test/realtime.test.ts checks the bytes a client receives. Compression is off on our
 * server (perMessageDeflate false), which these frames assume.
 */

const Sender = (ws as unknown as { Sender: { frame(data: Buffer, o: object): Buffer[] } }).Sender;
const FRAME_OPTIONS = { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true };
const OPEN = 1;

/**
 * Writes conversation events to one socket as the data frames of one subscription:
 * `{"id":<subscription id>,"result":{"type":"data","id":"<seq>","data":…}}`.
 */
export class FrameWriter {
  /** The underlying TCP socket (for its drain state). */
  readonly raw: Socket;
  /**
   * True when frames may go straight to the TCP socket: no extension is negotiated, so
   * ws's sender never compresses and never queues (it only queues while compressing or
   * reading a Blob, and this server sends no Blobs). Otherwise every frame goes through
   * `socket.send`, in order with everything else.
   */
  readonly direct: boolean;
  private readonly head: Buffer;
  /** Sockets whose subscription has the same id, protocol and form (compact or not) share one frame per event. */
  readonly headKey: string;

  constructor(
    private readonly socket: WebSocket,
    subscriptionId: number | string,
    jsonrpc: '2.0' | undefined,
    /** Conversation events in their compact form (src/realtime/compact.ts) instead of superjson. */
    private readonly compact = false,
  ) {
    this.raw = (socket as unknown as { _socket: Socket })._socket;
    this.direct = socket.extensions === '';
    const id = `${JSON.stringify(subscriptionId)}${jsonrpc ? ',"jsonrpc":"2.0"' : ''}`;
    // Compact and superjson frames differ after the head: the key keeps them apart (frameOf, socket groups).
    this.headKey = compact ? `${id} compact` : id;
    this.head = Buffer.from(`{"id":${id},"result":{"type":"data","id":"`);
  }

  /** Writes the event's frame: one write of shared bytes. */
  write(event: WireEvent): void {
    if (this.direct) this.raw.write(this.frameOf(event));
    else this.socket.send(Buffer.concat([this.head, this.tailOf(event)]), { binary: false });
  }

  /**
   * Writes a frame of frameOf() when the socket is open and its kernel buffer takes bytes
   * (a direct writer only); returns false, writing nothing, otherwise.
   */
  tryWrite(frame: Buffer): boolean {
    if (this.socket.readyState !== OPEN || this.raw.writableNeedDrain) return false;
    this.raw.write(frame);
    return true;
  }

  private tailOf(event: WireEvent): Buffer {
    return this.compact ? event.compactTail() : event.frameTail();
  }

  /** The frame for this event and head, built once and shared by every socket with the same head. */
  frameOf(event: WireEvent): Buffer {
    // The common case (every socket's subscription has the same id, most clients number it 1) is one comparison.
    if (event.frameKey === this.headKey) return event.frame!;
    let frame = event.frames?.get(this.headKey);
    if (!frame) {
      frame = Buffer.concat(Sender.frame(Buffer.concat([this.head, this.tailOf(event)]), FRAME_OPTIONS));
      if (event.frameKey === undefined) {
        event.frameKey = this.headKey;
        event.frame = frame;
      } else {
        (event.frames ??= new Map()).set(this.headKey, frame);
      }
    }
    return frame;
  }
}
