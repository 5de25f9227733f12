import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import type { Config } from '../config.js';
import { UPLOAD_PREFIX } from '../media/rules.js';
import { makeDirs, usableDir } from './usable-dir.js';

/** The bucket embedded mode creates in its s3rver. */
export const EMBEDDED_BUCKET = 'guildhall';
/** The way out of an embedded store that cannot be used, in its errors. */
const OTHER_STORE = 'set DATA_DIR to another directory (or S3_ENDPOINT and S3_BUCKET)';

/**
 * Object storage: one S3 client and bucket, whichever store is underneath.
 * - Service mode (`S3_ENDPOINT` and `S3_BUCKET` set): S3 or MinIO; media processing is
 *   the Lambda's job (deploy/), triggered by the bucket's notification.
 * - Embedded mode (neither set): s3rver on a loopback port chosen by the OS, files under
 *   `<DATA_DIR>/s3`; `onObjectCreated` hands its S3 event notifications to the caller.
 */
export interface Storage {
  client: S3Client;
  bucket: string;
  /** The endpoint presigned URLs point at. */
  endpoint: string;
  mode: 'embedded' | 'service';
  /** Embedded mode only: called with each ObjectCreated event in the standard S3 event shape. */
  onObjectCreated(listener: (event: S3Event) => void): void;
  close(): Promise<void>;
}

/**
 * Opens the configured store, or starts the embedded s3rver.
 * @throws Error when s3rver cannot listen; Error of one line naming the path and what to do
 *   when `<DATA_DIR>/s3` or a file in it cannot be made, read or written (EACCES, EROFS…).
 */
export async function openStorage(config: Config): Promise<Storage> {
  if (config.s3.endpoint && config.s3.bucket) {
    const client = new S3Client({
      endpoint: config.s3.endpoint,
      region: config.s3.region,
      // MinIO and most S3-compatible stores want path-style URLs; AWS S3 accepts them.
      forcePathStyle: true,
      ...(config.s3.accessKeyId && config.s3.secretAccessKey
        ? { credentials: { accessKeyId: config.s3.accessKeyId, secretAccessKey: config.s3.secretAccessKey } }
        : {}),
    });
    return {
      client,
      bucket: config.s3.bucket,
      endpoint: config.s3.endpoint,
      mode: 'service',
      onObjectCreated() {},
      async close() {
        client.destroy();
      },
    };
  }
  return openEmbedded(config.dataDir, config.corsOrigins);
}

/**
 * The bucket CORS rule a browser upload needs (the presigned POST goes straight to the
 * store, from the page's origin): POST and GET from the allowed origins (CORS_ORIGINS),
 * any request header. A real S3 bucket needs the same rule (deploy/template.yaml has it).
 */
function bucketCorsXml(origins: readonly string[]): string {
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const allowed = origins.map((o) => `<AllowedOrigin>${esc(o)}</AllowedOrigin>`).join('');
  return `<CORSConfiguration><CORSRule>${allowed}<AllowedMethod>POST</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
}

/**
 * Gives the embedded bucket the CORS rule of `origins` (bucketCorsXml; none when empty),
 * kept in memory: the store's directory may be shared by servers with different
 * CORS_ORIGINS (several at once, or a restart with another setting), so the rule is never
 * written there, and one found there is ignored. Uses s3rver's own rule matcher.
 */
function allowOrigins(server: S3rver, origins: readonly string[]): void {
  const { getConfigModel } = createRequire(import.meta.url)('s3rver/lib/models/config.js') as { getConfigModel(type: 'cors'): { validate(xml: string): unknown } };
  const rule = origins.length ? getConfigModel('cors').validate(bucketCorsXml(origins)) : undefined;
  const store = (server as unknown as { store: { getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown> } }).store;
  const read = store.getSubresource.bind(store);
  store.getSubresource = (bucket, key, type) => (type === 'cors' && key === undefined ? Promise.resolve(rule) : read(bucket, key, type));
}

async function openEmbedded(dataDir: string, corsOrigins: readonly string[]): Promise<Storage> {
  let scratch: string | null = null;
  let directory: string;
  if (dataDir === 'memory://') {
    directory = scratch = mkdtempSync(path.join(tmpdir(), 'guildhall-s3-'));
  } else {
    directory = path.resolve(dataDir, 's3');
    // Named with what to do, rather than by s3rver's own error on a file inside.
    usableDir(directory, 'the embedded object store (media)', OTHER_STORE);
    usableDir(path.join(directory, EMBEDDED_BUCKET), 'the embedded object store (media)', OTHER_STORE);
  }
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: EMBEDDED_BUCKET, configs: [] }],
  });
  // Browsers upload to the presigned POST directly: the bucket allows the CORS origins.
  allowOrigins(server, corsOrigins);
  const { port } = await server.run().catch((err: NodeJS.ErrnoException) => {
    // A file of the store's that this user cannot read or write (its error names the path).
    if (!err.path) throw err;
    throw new Error(`DATA_DIR: the embedded object store in ${directory} could not start (${err.message}); make every file in it readable and writable by this user, or ${OTHER_STORE}`, { cause: err });
  });
  // s3rver removes a key's directory when its last object is deleted, and a POST into that
  // directory at the same moment fails with 500 (it made the directory, then lost it). The
  // handler deletes every upload once processed, so `uploads/` empties often: a plain file
  // (not an object: s3rver lists only its own `._S3rver_object` files) keeps it.
  const uploadsDir = path.join(directory, EMBEDDED_BUCKET, UPLOAD_PREFIX);
  makeDirs(uploadsDir);
  writeFileSync(path.join(uploadsDir, '.guildhall-keep'), 'keeps this directory while uploads come and go (src/infra/storage.ts)\n');
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver accepts any credentials; the SDK only needs some to sign with.
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const listeners: ((event: S3Event) => void)[] = [];
  (server as unknown as NodeJS.EventEmitter).on('event', (event: S3Event) => {
    if (!event.Records?.[0]?.eventName?.startsWith('ObjectCreated:')) return;
    for (const l of listeners) l(event);
  });
  return {
    client,
    bucket: EMBEDDED_BUCKET,
    endpoint,
    mode: 'embedded',
    onObjectCreated: (l) => void listeners.push(l),
    async close() {
      client.destroy();
      await server.close().catch(() => {});
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
