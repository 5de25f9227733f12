import type { S3Event } from 'aws-lambda';
import type { Logger } from 'pino';
import { closeClient, createClient } from '../../sdk/src/index.js';
import type { Storage } from '../infra/storage.js';
import { createMediaHandler } from '../lambda/media.js';

/** The in-process pipeline: notifications (s3rver's, or a webhook's) run the Lambda handler here. */
export interface EmbeddedPipeline {
  /** Queues one S3 event for the handler. */
  enqueue(event: S3Event): void;
  /** Resolves when every event received so far has been handled (tests, shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Embedded mode's stand-in for the bucket notification and Lambda: each ObjectCreated
 * event of the s3rver (the standard S3 event shape) is handed, one at a time, to the same
 * handler that runs on Lambda (src/lambda/media.ts), which reports to this server at `url`
 * through the SDK with the service token, exactly as the deployed function does.
 * In service mode it runs only what is posted to `POST /media/s3-events` (a MinIO webhook
 * target); S3 itself notifies the Lambda instead.
 */
export function startEmbeddedPipeline(opts: { storage: Storage; url: string; serviceToken: string; log: Logger }): EmbeddedPipeline {
  const api = createClient({ url: opts.url, token: opts.serviceToken, batch: false });
  const run = createMediaHandler({ s3: opts.storage.client, api, log: opts.log.child({ component: 'media-pipeline' }) });
  let tail: Promise<void> = Promise.resolve();
  let stopped = false;
  const enqueue = (event: S3Event) => {
    if (stopped) return;
    // One at a time: sharp already uses every core for one image.
    tail = tail.then(() =>
      run(event).then(
        () => {},
        (err) => opts.log.error({ err }, 'media pipeline: event failed (the claim was released)'),
      ),
    );
  };
  // Embedded storage notifies in process; any store may also post to the webhook (src/media/webhook.ts).
  if (opts.storage.mode === 'embedded') opts.storage.onObjectCreated(enqueue);
  return {
    enqueue,
    idle: () => tail,
    async stop() {
      stopped = true;
      await tail;
      closeClient(api);
    },
  };
}
