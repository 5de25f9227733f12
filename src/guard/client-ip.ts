import type { IncomingMessage } from 'node:http';

/**
 * The client's address. Without a trusted proxy it is the socket's peer; with
 * `trustProxy` = N proxies in front (TRUST_PROXY), it is the address the outermost of
 * them saw: the N-th entry of `X-Forwarded-For` counted from the right, since each proxy
 * appends the peer it saw and anything further left was written by the client (express's
 * `trust proxy` with a hop count works the same way). Never trusted by default: a client
 * could then pick any address and dodge every per-address limit.
 */
export function clientIp(req: IncomingMessage, trustProxy: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (hops.length === 0) return peer;
  return hops[Math.max(0, hops.length - trustProxy)]!.slice(0, 64);
}
