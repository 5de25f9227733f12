import type http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Whether an upgrade request asks for a WebSocket: its `Upgrade` header lists the token
 * `websocket` (case-insensitive, RFC 6455 §4.2.1). `Upgrade: h2c` (what `curl --http2`
 * offers over http://) or any other protocol is not.
 */
export function wantsWebSocket(req: http.IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').split(',').some((t) => t.trim().toLowerCase() === 'websocket');
}

/**
 * Serves an upgrade request the server does not take as the plain HTTP/1.1 request it also
 * is (RFC 9110 §7.8: a server may ignore Upgrade): its request line and headers, without
 * `Upgrade`, go back in front of the bytes that followed (`head`), and the socket is handed
 * to `server` as a new connection, so the request listener answers it as any request:
 * with its body, keep-alive and pipelining.
 *
 * Why: on Node 20, once the server has an 'upgrade' listener, Node hands it every request
 * carrying `Connection: Upgrade` with an `Upgrade` header, whatever the protocol; Node 24's
 * `shouldUpgradeCallback` option, which lets the rest through as requests, is not in 20.
 * (The 'connection' event is the documented way to inject a connection into a server.)
 */
export function serveAsPlainRequest(server: http.Server, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'upgrade') lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  // Node reads header bytes as latin1: written back the same way, they are the bytes that came.
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  server.emit('connection', socket);
}
