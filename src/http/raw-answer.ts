import http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Ends a raw socket (an upgrade request, or a request Node's parser refused) with an
 * HTTP/1.1 answer of `status` and the REST view's error shape as JSON, `{ code, message }`,
 * then closes it (`Connection: close`). `headers` are added as they are. The answer to a
 * `method` of HEAD has the same headers, Content-Length included, and no body (RFC 9110 §9.3.2).
 */
export function endRaw(socket: Duplex, status: number, error: { code: string; message: string }, headers: Record<string, string> = {}, method?: string): void {
  const body = JSON.stringify(error);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n`;
  socket.end(method === 'HEAD' ? head : head + body);
}

/**
 * The answer to a WebSocket handshake that `ws` refused (its `wsClientError`, by the
 * message ws gives, RFC 6455 §4.2.1; `upgrade` is the request's Upgrade header): status,
 * code, a message that says what to send, and headers (`Sec-WebSocket-Version: 13, 8`,
 * the versions ws speaks, for another version, §4.4).
 */
export function upgradeRefusal(wsMessage: string, upgrade = ''): [number, string, string, Record<string, string>] {
  switch (wsMessage) {
    case 'Invalid HTTP method':
      return [405, 'METHOD_NOT_SUPPORTED', 'a WebSocket handshake is a GET', { allow: 'GET' }];
    case 'Invalid Upgrade header':
      // Only a request naming websocket gets here (plain-upgrade.ts serves the others): ws takes it alone.
      return [400, 'BAD_REQUEST', `the Upgrade header must be websocket alone (it was ${JSON.stringify(upgrade)})`, {}];
    case 'Missing or invalid Sec-WebSocket-Key header':
      return [400, 'BAD_REQUEST', 'the WebSocket handshake needs a Sec-WebSocket-Key header: 16 random bytes in base64 (RFC 6455 §4.1)', {}];
    case 'Missing or invalid Sec-WebSocket-Version header':
      // ws takes 13 and 8 (websocket-server.js), and says so in this header.
      return [400, 'BAD_REQUEST', 'the WebSocket handshake needs Sec-WebSocket-Version: 13 (RFC 6455), or 8 (its drafts 8 to 12)', { 'sec-websocket-version': '13, 8' }];
    default:
      return [400, 'BAD_REQUEST', `WebSocket handshake refused: ${wsMessage}`, {}];
  }
}
