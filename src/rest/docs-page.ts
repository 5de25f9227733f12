import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type http from 'node:http';

/**
 * `/docs`: the API reference (Swagger UI) for `/openapi.json`, served from the files of
 * the swagger-ui-dist package: no CDN, so it works offline and under a strict CSP.
 */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Guildhall API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true });\n`;

let dir: string | null = null;
const assetDir = () => (dir ??= path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json')));

/** Serves `/docs` and its assets; returns false for any other path. */
export function serveDocs(url: string, res: http.ServerResponse): boolean {
  const p = url.split('?')[0]!;
  if (p === '/docs' || p === '/docs/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
    return true;
  }
  if (p === '/docs/init.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    res.end(INIT);
    return true;
  }
  const name = p.startsWith('/docs/') ? p.slice('/docs/'.length) : null;
  const type = name ? ASSETS[name] : undefined;
  if (!name || !type) return false;
  fs.readFile(path.join(assetDir(), name), (err, data) => {
    if (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end('the API reference assets are missing: reinstall swagger-ui-dist');
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
    res.end(data);
  });
  return true;
}
