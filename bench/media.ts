/**
 * Media pipeline throughput: images/s through the real handler (src/lambda/media.ts: claim,
 * HeadObject, GetObject, sniff, sharp, four PutObjects, DeleteObject, media.complete over
 * HTTP) against bare sharp doing the same resizes, measured in the same run, interleaved
 * image by image (bare, handler, bare) so that load from elsewhere falls on each alike.
 *
 *   npm run bench:media -- [--images=20] [--rounds=3]
 *
 * Input: 3-megapixel JPEGs (2048 × 1536, noisy, quality 85). Output per image: WebP at 160,
 * 640 and 1280 px on the long side. Baselines:
 * - `sharp, 3 resizes`: one decode, three `clone().resize().webp()`; the target is
 *   handler ≥ 0.8 × this.
 * - `sharp, handler's image work`: the same plus the ThumbHash (from the 160 px variant), which is all the sharp work
 *   the handler does for an upright JPEG (its full image loses its metadata segments
 *   losslessly, without sharp), so the ratio against it is the cost of storage, sniffing
 *   and reporting alone.
 * The server runs in service mode against an s3rver of the bench's own (no in-process
 * pipeline), on PGlite in memory unless DATABASE_URL is set.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import pino from 'pino';
import S3rver from 's3rver';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { loadConfig } from '../src/config.js';
import { createMediaHandler } from '../src/lambda/media.js';
import { createServer } from '../src/server.js';
import { closeClient, createClient } from '../sdk/src/index.js';

const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const IMAGES = arg('images', 20);
const ROUNDS = arg('rounds', 3);
const SIZES = [160, 640, 1280];

async function sourceImages(n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await sharp({ create: { width: 2048, height: 1536, channels: 3, background: { r: (i * 37) % 255, g: 90, b: 160 }, noise: { type: 'gaussian', mean: 120, sigma: 25 } } })
        .jpeg({ quality: 85 })
        .toBuffer(),
    );
  }
  return out;
}

async function bareResizes(buf: Buffer): Promise<void> {
  const base = sharp(buf, { autoOrient: true });
  await Promise.all(SIZES.map((s) => base.clone().resize({ width: s, height: s, fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer()));
}

async function bareHandlerWork(buf: Buffer): Promise<void> {
  const base = sharp(buf, { autoOrient: true });
  const [small] = await Promise.all(SIZES.map((s) => base.clone().resize({ width: s, height: s, fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer()));
  const { data, info } = await sharp(small).resize({ width: 100, height: 100, fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  rgbaToThumbHash(info.width, info.height, data);
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-bench-media-'));
  const bucket = 'bench-media';
  const store = new S3rver({ address: '127.0.0.1', port: 0, directory: path.join(dir, 's3'), silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await store.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const token = randomBytes(32).toString('base64url');
  const config = {
    ...loadConfig({
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      MEDIA_SERVICE_TOKEN: token,
      MEDIA_PENDING_MAX: '10000',
      MESSAGE_SEND_RATE: '1000000/1',
      MEDIA_DAILY_BYTES: String(1024 ** 4),
      DATA_DIR: 'memory://',
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    }),
    port: 0,
    host: '127.0.0.1',
  };
  const server = await createServer(config, pino({ level: 'silent' }));
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  const api = createClient({ url: server.url, token });
  const quiet = { info() {}, warn() {}, error() {} };
  const run = createMediaHandler({ s3, api, log: quiet });
  const anon = createClient({ url: server.url });
  const { token: userToken } = await anon.auth.signUp.mutate({ email: `bench-${Date.now()}@example.com`, password: 'bench-password', displayName: 'bench' });
  const user = createClient({ url: server.url, token: userToken });
  const community = await user.scopes.create.mutate({ kind: 'community', name: 'Bench' });

  const images = await sourceImages(IMAGES);
  console.log(`media bench: ${IMAGES} JPEGs of 2048 × 1536 (${(images.reduce((a, b) => a + b.length, 0) / IMAGES / 1024).toFixed(0)} KiB each) → WebP 160/640/1280; ${ROUNDS} rounds; ${cpus().length} cores; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, concurrency ${sharp.concurrency()}`);

  /** Uploads every image (outside the timing), then returns the events the store would send. */
  async function staged(): Promise<S3Event[]> {
    const events: S3Event[] = [];
    for (const body of images) {
      const t = await user.media.createUpload.mutate({ scopeId: community.id, filename: 'b.jpg', contentType: 'image/jpeg', size: body.length });
      const key = t.fields.key!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'image/jpeg' }));
      await user.messages.send.mutate({ scopeId: community.id, body: '', attachmentIds: [t.attachmentId] });
      events.push({
        Records: [{ eventName: 'ObjectCreated:Post', s3: { bucket: { name: bucket }, object: { key } } }],
      } as unknown as S3Event);
    }
    return events;
  }

  const time = async (f: () => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };

  // Warm-up: libvips' first calls load codecs.
  await bareHandlerWork(images[0]!);
  await Promise.all((await staged()).slice(0, 2).map((e) => run(e)));

  const rows: { round: number; resizes: number; work: number; handler: number }[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const events = await staged();
    // Interleaved per image, so a burst of load from elsewhere falls on all three alike.
    let resizes = 0;
    let handler = 0;
    let work = 0;
    for (let i = 0; i < images.length; i++) {
      const img = images[i]!;
      resizes += await time(() => bareResizes(img));
      handler += await time(async () => {
        const [outcome] = await run(events[i]!);
        if (outcome !== 'ready') throw new Error(`handler said ${outcome}`);
      });
      work += await time(() => bareHandlerWork(img));
    }
    rows.push({ round: r, resizes: IMAGES / resizes, work: IMAGES / work, handler: IMAGES / handler });
    console.log(
      `round ${r}: sharp, 3 resizes ${(IMAGES / resizes).toFixed(2)} img/s | sharp, handler's image work ${(IMAGES / work).toFixed(2)} img/s | handler ${(IMAGES / handler).toFixed(2)} img/s` +
        ` | handler / 3 resizes ${(resizes / handler).toFixed(2)}× | handler / same work ${(work / handler).toFixed(2)}×`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratioResizes = median(rows.map((x) => x.handler / x.resizes));
  const ratioWork = median(rows.map((x) => x.handler / x.work));
  console.log(`median: handler / bare sharp (3 resizes) = ${ratioResizes.toFixed(2)}× (target ≥ 0.80×); handler / bare sharp (same image work) = ${ratioWork.toFixed(2)}×`);

  closeClient(api);
  closeClient(user);
  s3.destroy();
  await server.close(100);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
