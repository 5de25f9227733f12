import type http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Whether an upgrade request asks for a WebSocket: its `Upgrade` header lists the token
 * `websocket` (case-insensitive, RFC 6455 §4.2.1). `Upgrade: h2c` (what `curl --http2`
 * offers over http://) or any other protocol is not.
 */
export function wantsWebSocket(req: http.IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').split(',').some((t) => t.trim().toLowerCase() === 'websocket');
}

/** Runs `then` once `socket` has no answer under way (at once when it has none). */
export type AfterAnswers = (socket: Duplex, then: () => void) => void;

/**
 * Counts the answers under way on each socket of `server` (a 'request' listener of its
 * own) and gives the function that runs something once a socket has none left. An
 * upgrade request pipelined behind requests still being answered waits for them: Node
 * emits 'upgrade' as soon as it parses the request, and a 101 (or a refusal, or a new
 * connection for the plain request, see `plainUpgradeHandler`) written then would come
 * before, or instead of, the answers owed on that socket.
 */
export function answerTracker(server: http.Server): AfterAnswers {
  const answering = new WeakMap<Duplex, { open: number; then?: () => void }>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    let state = answering.get(req.socket);
    if (!state) answering.set(req.socket, (state = { open: 0 }));
    const s = state;
    s.open++;
    // 'close' comes after Node has let go of the socket for this answer (or the answer was cut).
    res.once('close', () => {
      if (--s.open > 0 || !s.then) return;
      const then = s.then;
      s.then = undefined;
      then();
    });
  });
  return (socket, then) => {
    const state = answering.get(socket);
    if (!state || state.open === 0) return then();
    // Node took its own listeners off the socket when it emitted 'upgrade': while it waits,
    // an error (a reset) must not go unheard, which would end the process.
    const drop = () => socket.destroy();
    socket.on('error', drop);
    state.then = () => {
      // A socket destroyed by an error meanwhile may still emit it (next tick): keep the
      // listener on it, and hand nothing over.
      if (socket.destroyed) return;
      socket.off('error', drop);
      then();
    };
  };
}

/**
 * The handler of upgrade requests `server` does not take (see `wantsWebSocket`): each is
 * served as the plain HTTP/1.1 request it also is (RFC 9110 §7.8: a server may ignore
 * Upgrade). Its request line and headers, without `Upgrade`, go back in front of the bytes
 * that followed (`head`), and the socket is handed to `server` as a new connection, so the
 * request listener answers it as any request: with its body, keep-alive and pipelining.
 * The hand-over waits for the answers to earlier requests on the socket (`afterAnswers`):
 * Node queues a connection's answers behind the socket's current one, and the new
 * connection's queue would never be served by the old connection's end of answer (the
 * request got no answer while a POST in it took effect).
 *
 * Why: on Node 20, once the server has an 'upgrade' listener, Node hands it every request
 * carrying `Connection: Upgrade` with an `Upgrade` header, whatever the protocol; Node 24's
 * `shouldUpgradeCallback` option, which lets the rest through as requests, is not in 20.
 * (The 'connection' event is the documented way to inject a connection into a server.)
 */
export function plainUpgradeHandler(server: http.Server, afterAnswers: AfterAnswers): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.toLowerCase() !== 'upgrade') lines.push(`${raw[i]}: ${raw[i + 1]}`);
    }
    // Node reads header bytes as latin1: written back the same way, they are the bytes that came.
    const bytes = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]);
    afterAnswers(socket, () => {
      if (socket.destroyed) return;
      // The keep-alive timer the last answer's end armed belongs to the old connection: the
      // new one arms its own (it cut an answer or a body that took longer, SSE after 6 s).
      if (socket instanceof net.Socket) socket.setTimeout(0);
      socket.unshift(bytes);
      server.emit('connection', socket);
    });
  };
}
