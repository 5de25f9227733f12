import { CopyObjectCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { fileTypeFromBuffer } from 'file-type';
import { createClient, type GuildhallClient } from '../../sdk/src/index.js';
import { VARIANT_SIZES, displayKey, fileKey, isImageType, overLimit, servedFileType, UPLOAD_PREFIX, variantKey } from '../media/rules.js';
import { ImageRejected, processImage } from './image.js';

/** Where the handler logs (console on Lambda; pino in process). */
export interface HandlerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What one handler needs: the bucket's S3 client and an SDK client carrying the service token. */
export interface MediaHandlerDeps {
  s3: S3Client;
  api: GuildhallClient;
  log?: HandlerLog;
}

/** What happened to one record of an event. */
export type RecordOutcome = 'ready' | 'failed' | 'skipped';

const VARIANT_NAMES = VARIANT_SIZES.map((s) => String(s) as '160' | '640' | '1280');

/** Bytes the type sniffer reads of a file that is not an image (file-type needs ≤ 4,100). */
const SNIFF_BYTES = 4_100;
/**
 * An image upload no larger than this (bytes; the default image limit, 25 MiB) is read
 * while the claim is asked: on the usual path the claim's round trip then costs nothing.
 * The bytes are used only once the claim is ours and the size checks pass; otherwise they
 * are dropped (a duplicate event read them for nothing).
 */
const PREFETCH_MAX_BYTES = 25 * 1024 * 1024;

/**
 * Builds the media pipeline handler: a function of the standard S3 event (the shape AWS
 * sends a Lambda from a bucket notification). For each ObjectCreated record under
 * `uploads/`:
 * 1. claims the upload through `media.claim` (a duplicate or late event is skipped here:
 *    S3 delivers at least once, and one claim means one set of variants);
 * 2. the stored size (GetObject's headers, asked while the claim is) must equal the
 *    declared one and stay within the limit of its type (not every store enforces the POST
 *    policy; s3rver enforces none);
 * 3. sniffs the real type from the bytes (file-type); a declared image whose bytes are
 *    another format fails;
 * 4. images: `processImage` (pixel limit, auto-orient, metadata stripped, WebP variants,
 *    ThumbHash), writes them under `media/<id>/` (a prefix the notification does not
 *    match, so the handler never triggers itself) and deletes the upload, which still
 *    held the original metadata; other files stay as they came;
 * 5. reports `ready` or `failed` (with a reason a person can read) through
 *    `media.complete`. What fails is deleted from the bucket.
 * A storage or network error gives the claim back (`media.release`) and is rethrown, so
 * Lambda's retry, or the next event, runs it again.
 */
export function createMediaHandler(deps: MediaHandlerDeps): (event: S3Event) => Promise<RecordOutcome[]> {
  const log = deps.log ?? consoleLog;
  return async (event) => {
    const out: RecordOutcome[] = [];
    for (const record of event.Records ?? []) out.push(await handleRecord(deps, log, record));
    return out;
  };
}

async function handleRecord(deps: MediaHandlerDeps, log: HandlerLog, record: S3EventRecord): Promise<RecordOutcome> {
  if (!record.eventName?.startsWith('ObjectCreated:')) return 'skipped';
  const bucket = record.s3.bucket.name;
  // Keys in S3 events are URL-encoded, spaces as '+'.
  const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
  if (!key.startsWith(UPLOAD_PREFIX)) return 'skipped';
  // The upload is opened (one GetObject: its headers serve as HeadObject's) while the claim
  // is asked; what it says is used only once the claim is ours.
  const openP = openUpload(deps.s3, bucket, key);
  openP.catch(() => {});
  const prefetchP = openP.then((u) => u?.bytes ?? null);
  prefetchP.catch(() => {});
  const claim = await deps.api.media.claim.mutate({ key });
  if (!claim.claimed) {
    if (claim.settled) {
      // Processed already, so whatever is at the upload key now is a second POST of the same
      // presigned fields (or a replayed event of what was deleted): nothing serves it, and
      // a re-sent original would keep its metadata in storage.
      await deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    log.info({ key, reason: claim.reason }, 'media: event skipped');
    return 'skipped';
  }
  const id = claim.attachmentId;
  const fail = async (reason: string): Promise<RecordOutcome> => {
    await deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await deps.api.media.complete.mutate({ attachmentId: id, result: { status: 'failed', reason } });
    log.warn({ key, reason }, 'media: upload refused');
    return 'failed';
  };
  try {
    const head = await openP;
    if (!head) {
      await deps.api.media.complete.mutate({ attachmentId: id, result: { status: 'failed', reason: 'the upload is gone from storage; upload the file again' } });
      return 'failed';
    }
    const size = head.size;
    if (size > claim.maxBytes) {
      const over = overLimit(size, claim.maxBytes);
      return await fail(`the file is ${over.size}, over the limit of ${over.limit}`);
    }
    if (size !== claim.declaredSize) {
      return await fail(`the stored file is ${size} bytes but ${claim.declaredSize} were declared; upload it again with its real size`);
    }
    const declared = claim.declaredType;
    const image = isImageType(declared);
    const early = image ? await prefetchP.catch(() => null) : null;
    // The prefetched bytes are those the headers measured (a body cut short is read again).
    const body = early && early.length === size ? early : await getBytes(deps.s3, bucket, key, image ? undefined : SNIFF_BYTES);
    const sniffed = (await fileTypeFromBuffer(body))?.mime;
    if (isImageType(declared)) {
      if (sniffed !== declared) {
        return await fail(`the file was declared as ${claim.declaredType} but its bytes are ${sniffed ?? 'not a known format'}`);
      }
      const full = displayKey(id, declared);
      let processed;
      try {
        processed = await processImage(body, declared, {
          limitInputPixels: claim.limitInputPixels,
          // Written as each is encoded; the keys are fixed per attachment, so a rerun after a
          // crash overwrites rather than adds.
          emit: (name, out) => put(deps.s3, bucket, name === 'full' ? full : variantKey(id, name), out.body, out.contentType),
        });
      } catch (err) {
        if (err instanceof ImageRejected) {
          // Outputs already written before the refusal go too.
          await deps.s3.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [full, ...VARIANT_NAMES.map((n) => variantKey(id, n))].map((Key) => ({ Key })), Quiet: true } }),
          );
          return await fail(err.message);
        }
        throw err;
      }
      // The upload still holds the metadata; it is never served (downloads use the full
      // image), so its deletion and the report run together.
      const removed = deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      const reported = deps.api.media.complete.mutate({
        attachmentId: id,
        result: {
          status: 'ready',
          contentType: declared,
          size,
          image: {
            displayKey: full,
            width: processed.width,
            height: processed.height,
            animated: processed.animated,
            thumbhash: processed.thumbhash,
            variants: processed.variants.map((v) => ({
              name: v.name,
              key: variantKey(id, v.name),
              width: v.width,
              height: v.height,
              size: v.body.length,
              contentType: v.contentType,
            })),
          },
        },
      });
      await Promise.all([removed, reported]);
    } else {
      // The checked bytes move out of the uploads prefix (the presigned POST stays valid until
      // it expires, and a second POST would replace them); IfMatch: a swap since they were
      // read fails the copy (412), the claim is released, and the swap's own event runs.
      const stored = fileKey(id);
      await deps.s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: stored, CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`, CopySourceIfMatch: head.etag }),
      );
      await deps.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      await deps.api.media.complete.mutate({ attachmentId: id, result: { status: 'ready', contentType: servedFileType(sniffed, claim.declaredType), size, fileKey: stored } });
    }
    log.info({ key, size }, 'media: upload ready');
    return 'ready';
  } catch (err) {
    await deps.api.media.release.mutate({ attachmentId: id }).catch(() => {});
    log.error({ key, err: err instanceof Error ? err.message : String(err) }, 'media: processing failed; the claim was released');
    throw err;
  }
}

/** An upload as one GetObject found it: its stored size, and its bytes when they are being read. */
interface OpenedUpload {
  /** ContentLength, bytes. */
  size: number;
  /** The ETag of the bytes read, for a copy that must be of those bytes. */
  etag: string | undefined;
  /** The whole body, for an image type within PREFETCH_MAX_BYTES; null otherwise (the body was not read). */
  bytes: Promise<Buffer> | null;
}

/**
 * GetObject of the upload: its headers answer what HeadObject would (the stored size), and
 * for an image upload within PREFETCH_MAX_BYTES (by the stored Content-Type) the body is read
 * on. Any other body is dropped unread, so a 100 MiB file is not downloaded to be sniffed.
 * @returns null when the object does not exist (404).
 */
async function openUpload(s3: S3Client, bucket: string, key: string): Promise<OpenedUpload | null> {
  let res;
  try {
    res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return null;
    throw err;
  }
  const size = res.ContentLength ?? 0;
  if (size <= PREFETCH_MAX_BYTES && isImageType(res.ContentType ?? '')) {
    const body = res.Body!;
    return { size, etag: res.ETag, bytes: body.transformToByteArray().then((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) };
  }
  (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
  return { size, etag: res.ETag, bytes: null };
}

async function getBytes(s3: S3Client, bucket: string, key: string, firstBytes?: number): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(firstBytes ? { Range: `bytes=0-${firstBytes - 1}` } : {}) }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

async function put(s3: S3Client, bucket: string, key: string, body: Buffer, contentType: string) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, CacheControl: 'private, max-age=31536000, immutable' }));
}

const consoleLog: HandlerLog = {
  info: (o, m) => console.log(JSON.stringify({ level: 'info', msg: m, ...o })),
  warn: (o, m) => console.warn(JSON.stringify({ level: 'warn', msg: m, ...o })),
  error: (o, m) => console.error(JSON.stringify({ level: 'error', msg: m, ...o })),
};

let lambdaHandler: ((event: S3Event) => Promise<RecordOutcome[]>) | null = null;

/**
 * The AWS Lambda entry point (deploy/template.yaml: `media.handler`). Reads
 * `GUILDHALL_URL` (the server's base URL) and `GUILDHALL_SERVICE_TOKEN` (the server's
 * `MEDIA_SERVICE_TOKEN`); S3 credentials come from the function's role, and
 * `S3_ENDPOINT` points it at MinIO instead of AWS.
 * @throws Error when a variable is missing, or a record failed for a transient reason
 *   (Lambda then retries the event).
 */
export async function handler(event: S3Event): Promise<{ outcomes: RecordOutcome[] }> {
  if (!lambdaHandler) {
    const url = process.env.GUILDHALL_URL;
    const token = process.env.GUILDHALL_SERVICE_TOKEN;
    if (!url || !token) throw new Error('set GUILDHALL_URL and GUILDHALL_SERVICE_TOKEN');
    const endpoint = process.env.S3_ENDPOINT;
    const s3 = new S3Client(endpoint ? { endpoint, forcePathStyle: true } : {});
    lambdaHandler = createMediaHandler({ s3, api: createClient({ url, token, batch: false }) });
  }
  return { outcomes: await lambdaHandler(event) };
}
