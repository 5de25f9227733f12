import * as ws from 'ws';
import type { WebSocket } from 'ws';
import type { WireEvent } from './wire.js';

/**
 * Pre-encoded WebSocket frames, as Socket.IO 4.8 does for broadcasts
 * (https://github.com/websockets/ws/issues/617#issuecomment-283002469): a frame is built
 * once per event and subscription head and written with the socket's own sender, so no
 * socket pays for framing or copying. This leans on two `ws` internals
 * (`WebSocket.Sender.frame` and `socket._sender.sendFrame`); `ws` is pinned and
 * test/realtime.test.ts checks the bytes a client receives. Compression is off on our
 * server (perMessageDeflate false), which these frames assume.
 */

type FrameList = Buffer[];
interface SenderInternals {
  _state: number;
  _queue: unknown[];
  sendFrame(list: FrameList, cb?: (err?: Error) => void): void;
}
const Sender = (ws as unknown as { Sender: { frame(data: Buffer, o: object): FrameList } }).Sender;
const FRAME_OPTIONS = { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true };


/**
 * The text frame `{"id":<subscription id>,"result":{"type":"data","id":"<seq>","data":…}}`
 * for this event and head, built once and shared by every socket with the same head
 * (most clients number their first subscription 1).
 */
export function frameFor(event: WireEvent, headKey: string, head: Buffer): FrameList {
  // The common case (every socket's subscription has the same id) is one comparison.
  if (event.frameKey === headKey) return event.frame as FrameList;
  let frame = event.frames?.get(headKey);
  if (!frame) {
    frame = Sender.frame(Buffer.concat([head, event.frameTail()]), FRAME_OPTIONS);
    if (event.frameKey === undefined) {
      event.frameKey = headKey;
      event.frame = frame;
    } else {
      (event.frames ??= new Map()).set(headKey, frame);
    }
  }
  return frame;
}

/**
 * Writes a pre-encoded frame. Falls back to a normal send while the socket's sender is
 * busy with something queued, so the order of frames is kept.
 */
export function sendFrame(socket: WebSocket, frame: FrameList, head: Buffer, event: WireEvent): void {
  const sender = (socket as unknown as { _sender?: SenderInternals })._sender;
  if (sender && sender._state === 0 && sender._queue.length === 0) sender.sendFrame(frame);
  else socket.send(Buffer.concat([head, event.frameTail()]), { binary: false });
}
