import type http from 'node:http';
import type { S3Event } from 'aws-lambda';
import type { Logger } from 'pino';
import type { MediaService } from './service.js';

/** Where a store that cannot invoke a Lambda (MinIO) posts its bucket notifications. */
export const S3_WEBHOOK_PATH = '/media/s3-events';

/** Largest notification body accepted (bytes). */
const MAX_BODY = 256 * 1024;

/**
 * `POST /media/s3-events`: a bucket notification in the standard S3 event shape (what
 * MinIO's webhook target sends), authenticated with the service token as a bearer token
 * (MinIO: `MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_<ID>`), handed to `run` (the pipeline handler in
 * this process). Answers 202 at once: the store does not wait for processing. 401 without
 * the token, 400 for a body that is not an S3 event, 413 over 256 KiB.
 */
export function handleS3Webhook(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  deps: { media: MediaService; run: (event: S3Event) => void; log: Logger },
): void {
  const send = (status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'POST') return send(405, { error: 'POST an S3 event notification here' });
  const auth = req.headers.authorization ?? '';
  const token = auth.replace(/^Bearer\s+/i, '');
  if (!deps.media.isServiceToken(token || null)) return send(401, { error: 'send the service token (MEDIA_SERVICE_TOKEN) as a bearer token' });
  let size = 0;
  const chunks: Buffer[] = [];
  let refused = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY) {
      refused = true;
      send(413, { error: `an event notification is at most ${MAX_BODY} bytes` });
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (refused) return;
    let event: S3Event;
    try {
      event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as S3Event;
    } catch {
      return send(400, { error: 'the body is not JSON' });
    }
    if (!Array.isArray(event?.Records)) return send(400, { error: 'expected an S3 event: { "Records": [...] }' });
    deps.run(event);
    send(202, { accepted: event.Records.length });
  });
}
