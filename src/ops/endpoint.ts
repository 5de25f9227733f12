import type http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Metrics } from './metrics.js';

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * `GET /metrics`: the Prometheus text format. With `token` set (METRICS_TOKEN) it needs
 * `Authorization: Bearer <token>` (401 otherwise), as Prometheus' `authorization`
 * scrape setting sends it.
 */
export async function serveMetrics(req: http.IncomingMessage, res: http.ServerResponse, metrics: Metrics, token: string | undefined): Promise<void> {
  if (token) {
    const given = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? '';
    if (!same(given, token)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="metrics"' });
      return void res.end('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
    }
  }
  try {
    const { contentType, body } = await metrics.exposition();
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`metrics failed: ${(err as Error).message}\n`);
  }
}
