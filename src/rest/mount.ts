import type http from 'node:http';
import { createRequire } from 'node:module';
import type { AnyRouter } from '@trpc/server';
import { createRestHandler, type RestHandlerOptions } from './handler.js';
import { openApiDocument } from './openapi.js';
import { serveDocs } from './docs-page.js';

const packageVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/**
 * The REST surface of one server: `/api/…` (every query and mutation with REST meta),
 * `GET /openapi.json` (generated once, on first request) and `/docs` (Swagger UI).
 * @returns a request listener part that answers and returns true for those paths, else false.
 */
export function restSurface(o: RestHandlerOptions & { router: AnyRouter; onFailure: (err: unknown, requestId: string | undefined) => void }) {
  const handler = createRestHandler(o);
  let document: string | null = null;
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    if (path === '/api' || path.startsWith('/api/')) {
      handler(req, res).catch((err) => {
        // The server set the request's id on the response before any route ran.
        const requestId = res.getHeader('x-request-id') as string | undefined;
        o.onFailure(err, requestId);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'INTERNAL_SERVER_ERROR', message: `internal server error (request ${requestId ?? 'unknown'})` }));
      });
      return true;
    }
    if (path === '/openapi.json' && (req.method === 'GET' || req.method === 'HEAD')) {
      document ??= JSON.stringify(openApiDocument(o.router, { version: packageVersion }));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : document);
      return true;
    }
    return serveDocs(url, res);
  };
}
