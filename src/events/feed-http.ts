import type http from 'node:http';
import type { Logger } from 'pino';
import type { CalendarFeedService } from './feed.js';

/**
 * `GET /calendar/{token}.ics`: the secret feed (see CalendarFeedService), served without
 * sign-in to calendar apps that poll it. 200 `text/calendar`; 404 for an unknown or
 * revoked token (the same answer, so a guess learns nothing); 405 for other methods.
 */
export function serveCalendarFeed(feeds: CalendarFeedService, log: Logger, req: http.IncomingMessage, res: http.ServerResponse): void {
  const match = /^\/calendar\/([^/?]+)\.ics(?:\?.*)?$/.exec(req.url ?? '');
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'private, max-age=300' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'a calendar feed is read with GET\n');
  if (!match) return send(404, 'text/plain; charset=utf-8', 'calendar feeds live at /calendar/{token}.ics\n');
  feeds
    .render(match[1]!)
    .then((ics) => (ics === null ? send(404, 'text/plain; charset=utf-8', 'unknown or revoked calendar feed\n') : send(200, 'text/calendar; charset=utf-8', ics)))
    .catch((err: unknown) => {
      log.error({ err }, 'calendar feed failed');
      send(500, 'text/plain; charset=utf-8', 'the calendar feed could not be built; try again later\n');
    });
}
