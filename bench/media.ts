/**
 * Media pipeline throughput: images/s through the real handler (src/lambda/media.ts: claim,
 * GetObject, sniff, sharp, four PutObjects, DeleteObject, media.complete over HTTP) against
 * bare sharp doing the same resizes, measured in the same run, interleaved image by image
 * (bare, handler, bare) so that load from elsewhere falls on each alike.
 *
 *   npm run bench:media -- [--images=20] [--rounds=3] [--stages] [--one-process]
 *
 * Input: 3-megapixel JPEGs (2048 × 1536, noisy, quality 85). Output per image: WebP at 160,
 * 640 and 1280 px on the long side. Baselines:
 * - `sharp, 3 resizes`: three `sharp(buf).resize().webp()` at once (new instances, not
 *   `clone()`, which copies the input buffer: neither side pays that); the issue's target is
 *   handler ≥ 0.8 × this.
 * - `sharp, handler's image work`: the same plus the ThumbHash (from the 160 px variant at 32 px), which is all the sharp work
 *   the handler does for an upright JPEG (its full image loses its metadata segments
 *   losslessly, without sharp), so the ratio against it is the cost of storage, sniffing
 *   and reporting alone.
 *
 * Setup (default) as deployed: the server in service mode (PostgreSQL, Redis) in a child
 * process, the storage (s3rver, standing in for S3) in another, and this process holding
 * only the handler and bare sharp, as a Lambda's process holds only the handler. All share
 * the machine's cores. Needs PostgreSQL (BENCH_PG_URL, an admin connection: a fresh
 * database is created and dropped) and Redis (BENCH_REDIS_URL; keys under a random prefix).
 * `--one-process`: the earlier setup, everything in this process (the server on PGlite in
 * memory unless DATABASE_URL is set, s3rver on the same event loop and libuv threadpool as
 * the handler), kept for comparison.
 * `--stages`: prints the median start and end of each storage and API call of the handler
 * (ms from the event), and CPU per image of each process (PostgreSQL's and Redis's not counted).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import pino from 'pino';
import S3rver from 's3rver';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { createMediaHandler } from '../src/lambda/media.js';
import { closeClient, createClient } from '../sdk/src/index.js';
import { runMain, serveChild, spawnRole } from './children.js';
import { freshRun } from './services.js';

const SELF = fileURLToPath(import.meta.url);
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const IMAGES = arg('images', 20);
const ROUNDS = arg('rounds', 3);
const STAGES = process.argv.includes('--stages');
const ONE_PROCESS = process.argv.includes('--one-process');
const SIZES = [160, 640, 1280];
const BUCKET = 'bench-media';
const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

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
  await Promise.all(SIZES.map((s) => sharp(buf, { autoOrient: true }).resize({ width: s, height: s, fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer()));
}

async function bareHandlerWork(buf: Buffer): Promise<void> {
  const [small] = await Promise.all(SIZES.map((s) => sharp(buf, { autoOrient: true }).resize({ width: s, height: s, fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer()));
  const { data, info } = await sharp(small).resize({ width: 32, height: 32, fit: 'inside' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  rgbaToThumbHash(info.width, info.height, data);
}

// ------------------------------------------------------------------ storage and server

/** s3rver with the bench's bucket, files under `dir`; resolves with its endpoint and a stop. */
async function startStorage(dir: string): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const store = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const { port } = await store.run();
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => store.close() };
}

/** The server in service mode against the storage at `endpoint` (no in-process pipeline). */
async function startServer(env: { endpoint: string; token: string; databaseUrl?: string; redisUrl?: string; redisPrefix?: string }) {
  const { createServer } = await import('../src/server.js');
  const { loadConfig } = await import('../src/config.js');
  const config = {
    ...loadConfig({
      S3_ENDPOINT: env.endpoint,
      S3_BUCKET: BUCKET,
      S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      MEDIA_SERVICE_TOKEN: env.token,
      MEDIA_PENDING_MAX: '10000',
      MESSAGE_SEND_RATE: '1000000/1',
      MEDIA_DAILY_BYTES: String(1024 ** 4),
      DATA_DIR: 'memory://',
      ...(env.databaseUrl ? { DATABASE_URL: env.databaseUrl } : {}),
      ...(env.redisUrl ? { REDIS_URL: env.redisUrl, REDIS_PREFIX: env.redisPrefix } : {}),
    }),
    port: 0,
    host: '127.0.0.1',
  };
  return createServer(config, pino({ level: 'silent' }));
}

/** A child of this script (MEDIA_ROLE): the storage or the server, until the parent stops it. */
async function childMain(role: string): Promise<void> {
  if (role === 'storage') {
    const { endpoint, stop } = await startStorage(process.env.MEDIA_S3_DIR!);
    serveChild(endpoint, stop);
  } else {
    const server = await startServer({
      endpoint: process.env.MEDIA_S3_ENDPOINT!,
      token: process.env.MEDIA_TOKEN!,
      databaseUrl: process.env.MEDIA_DATABASE_URL!,
      redisUrl: REDIS_URL,
      redisPrefix: process.env.MEDIA_PREFIX!,
    });
    serveChild(server.url, () => server.close(100));
  }
}

/** Where the handler's calls go, how to read each side's CPU time (ms), and how to stop it all. */
interface Services {
  endpoint: string;
  url: string;
  setup: string;
  cpu: { name: string; ms: () => number }[];
  stop: () => Promise<void>;
}

async function services(dir: string, token: string): Promise<Services> {
  if (ONE_PROCESS) {
    const storage = await startStorage(path.join(dir, 's3'));
    const server = await startServer({ endpoint: storage.endpoint, token, databaseUrl: process.env.DATABASE_URL });
    return {
      endpoint: storage.endpoint,
      url: server.url,
      setup: `one process: server on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite in memory'} and s3rver in the handler's process`,
      cpu: [],
      stop: async () => {
        await server.close(100);
        await storage.stop();
      },
    };
  }
  const { databaseUrl, prefix, children, cleanup: stop } = await freshRun('media', PG_ADMIN_URL, REDIS_URL);
  try {
    const storage = spawnRole(SELF, 'storage', { MEDIA_S3_DIR: path.join(dir, 's3') }, 'MEDIA_ROLE', 'MEDIA_NODE_FLAGS');
    children.push(storage);
    const endpoint = await storage.ready;
    const server = spawnRole(SELF, 'server', { MEDIA_S3_ENDPOINT: endpoint, MEDIA_TOKEN: token, MEDIA_DATABASE_URL: databaseUrl, MEDIA_PREFIX: prefix }, 'MEDIA_ROLE', 'MEDIA_NODE_FLAGS');
    children.push(server);
    const url = await server.ready;
    return {
      endpoint,
      url,
      setup: 'as deployed: server (PostgreSQL, Redis) and s3rver each in its own process, the handler alone in this one',
      cpu: [
        { name: 'server', ms: () => server.cpuMs() },
        { name: 's3rver', ms: () => storage.cpuMs() },
      ],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ------------------------------------------------------------------ the run

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-bench-media-'));
  const token = randomBytes(32).toString('base64url');
  const svc = await services(dir, token);
  const s3 = new S3Client({ endpoint: svc.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3_CREDENTIALS });
  const api = createClient({ url: svc.url, token, batch: false });
  const quiet = { info() {}, warn() {}, error() {} };

  // --stages: every storage and API call of the handler, timed from the event.
  const spans: { name: string; t0: number; t1: number }[] = [];
  let origin = 0;
  const now = () => Number(process.hrtime.bigint()) / 1e6 - origin;
  const traced = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = now();
    try {
      return await f();
    } finally {
      spans.push({ name, t0, t1: now() });
    }
  };
  const tracedS3 = new Proxy(s3, {
    get(target, prop) {
      if (prop !== 'send') return Reflect.get(target, prop);
      return (cmd: { constructor: { name: string }; input: { Key?: string } }) => {
        const key = cmd.input.Key ?? '';
        return traced(`${cmd.constructor.name.replace(/Command$/, '')} ${key.startsWith('uploads/') ? 'upload' : key.split('/').pop()}`, () => target.send(cmd as never));
      };
    },
  });
  const tracedApi = {
    media: Object.fromEntries(
      (['claim', 'complete', 'release'] as const).map((n) => [n, { mutate: (input: never) => traced<unknown>(n, () => (api.media[n].mutate as (i: never) => Promise<unknown>)(input)) }]),
    ),
  } as unknown as typeof api;
  const run = STAGES ? createMediaHandler({ s3: tracedS3, api: tracedApi, log: quiet }) : createMediaHandler({ s3, api, log: quiet });

  const anon = createClient({ url: svc.url });
  const { token: userToken } = await anon.auth.signUp.mutate({ email: `bench-${Date.now()}@example.com`, password: 'bench-password', displayName: 'bench' });
  closeClient(anon);
  const user = createClient({ url: svc.url, token: userToken });
  const community = await user.scopes.create.mutate({ kind: 'community', name: 'Bench' });

  const images = await sourceImages(IMAGES);
  console.log(
    `media bench: ${IMAGES} JPEGs of 2048 × 1536 (${(images.reduce((a, b) => a + b.length, 0) / IMAGES / 1024).toFixed(0)} KiB each) → WebP 160/640/1280; ${ROUNDS} rounds; ${cpus().length} cores; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, concurrency ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
  );
  console.log(`setup: ${svc.setup}`);

  /** Uploads every image (outside the timing), then returns the events the store would send. */
  async function staged(): Promise<S3Event[]> {
    const events: S3Event[] = [];
    for (const body of images) {
      const t = await user.media.createUpload.mutate({ scopeId: community.id, filename: 'b.jpg', contentType: 'image/jpeg', size: body.length });
      const key = t.fields.key!;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'image/jpeg' }));
      await user.messages.send.mutate({ scopeId: community.id, body: '', attachmentIds: [t.attachmentId] });
      events.push({
        Records: [{ eventName: 'ObjectCreated:Post', s3: { bucket: { name: BUCKET }, object: { key } } }],
      } as unknown as S3Event);
    }
    return events;
  }

  // CPU ms spent during each timed call: this process's, and each child's (from /proc).
  const cpuOf: Record<string, number> = {};
  const time = async (label: string, f: () => Promise<void>) => {
    const c0 = process.cpuUsage();
    const k0 = svc.cpu.map((c) => c.ms());
    const t0 = process.hrtime.bigint();
    await f();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    cpuOf[`${label}: this process`] = (cpuOf[`${label}: this process`] ?? 0) + (c.user + c.system) / 1000;
    svc.cpu.forEach((k, i) => (cpuOf[`${label}: ${k.name}`] = (cpuOf[`${label}: ${k.name}`] ?? 0) + k.ms() - k0[i]!));
    return seconds;
  };

  // Warm-up: libvips' first calls load codecs.
  await bareHandlerWork(images[0]!);
  await Promise.all((await staged()).slice(0, 2).map((e) => run(e)));
  spans.length = 0;

  const rows: { round: number; resizes: number; work: number; handler: number }[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const events = await staged();
    // Interleaved per image, so a burst of load from elsewhere falls on all three alike.
    let resizes = 0;
    let handler = 0;
    let work = 0;
    for (let i = 0; i < images.length; i++) {
      const img = images[i]!;
      resizes += await time('sharp, 3 resizes', () => bareResizes(img));
      handler += await time('handler', async () => {
        origin = Number(process.hrtime.bigint()) / 1e6;
        const [outcome] = await run(events[i]!);
        spans.push({ name: 'handler', t0: 0, t1: now() });
        if (outcome !== 'ready') throw new Error(`handler said ${outcome}`);
      });
      work += await time("sharp, handler's work", () => bareHandlerWork(img));
    }
    rows.push({ round: r, resizes: IMAGES / resizes, work: IMAGES / work, handler: IMAGES / handler });
    console.log(
      `round ${r}: sharp, 3 resizes ${(IMAGES / resizes).toFixed(2)} img/s | sharp, handler's image work ${(IMAGES / work).toFixed(2)} img/s | handler ${(IMAGES / handler).toFixed(2)} img/s` +
        ` | handler / 3 resizes ${(resizes / handler).toFixed(2)}× | handler / same work ${(work / handler).toFixed(2)}×`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  if (STAGES) {
    const names = [...new Set(spans.map((s) => s.name))];
    const stages = names.map((name) => {
      const of = spans.filter((s) => s.name === name);
      return { name, start: median(of.map((s) => s.t0)), end: median(of.map((s) => s.t1)), took: median(of.map((s) => s.t1 - s.t0)) };
    });
    console.log('stages (median ms from the event: start → end, duration):');
    for (const s of stages.sort((a, b) => a.start - b.start)) {
      console.log(`  ${s.name.padEnd(20)} ${s.start.toFixed(1).padStart(7)} → ${s.end.toFixed(1).padStart(7)}  ${s.took.toFixed(1).padStart(7)}`);
    }
    console.log(`CPU per image (ms): ${Object.entries(cpuOf).map(([k, v]) => `${k} ${(v / (IMAGES * ROUNDS)).toFixed(0)}`).join(' | ')}`);
  }
  const ratioResizes = median(rows.map((x) => x.handler / x.resizes));
  const ratioWork = median(rows.map((x) => x.handler / x.work));
  console.log(`median: handler / bare sharp (3 resizes) = ${ratioResizes.toFixed(2)}× (target ≥ 0.80×); handler / bare sharp (same image work) = ${ratioWork.toFixed(2)}×`);

  closeClient(api);
  closeClient(user);
  s3.destroy();
  await svc.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (process.env.MEDIA_ROLE) void childMain(process.env.MEDIA_ROLE);
else runMain(main);
