import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../../src/server.js';
import { createMediaHandler } from '../../src/lambda/media.js';
import type { Attachment, ScopeStreamEvent } from '../../sdk/src/index.js';
import { createTestDatabase, rawPool } from '../helpers/db.js';
import { codeOf } from '../helpers/errors.js';
import { closeClient, createClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import { collect, type Collected } from '../helpers/subscribe.js';
import { gpsJpeg, hasGpsIfd, pdf, png, pngBomb, postUpload, tiff } from './fixtures.js';
import type pg from 'pg';

type User = Awaited<ReturnType<typeof signUpClient>>;
type Updated = Extract<ScopeStreamEvent, { type: 'attachment.updated' }>;

const dataDir = mkdtempSync(path.join(tmpdir(), 'guildhall-media-'));
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let pool: pg.Pool;
const prefix = testPrefix();
const env = { DATA_DIR: dataDir, MEDIA_DAILY_BYTES: String(500 * 1024 * 1024), MEDIA_CLEANUP_MS: '3600000' };
const clients: User['client'][] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: prefix, env });
  pool = rawPool(db.url);
});
afterAll(async () => {
  for (const c of clients) closeClient(c);
  await server?.close(100);
  await pool?.end();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function user(name: string): Promise<User> {
  const u = await signUpClient(server.url, name);
  clients.push(u.client);
  return u;
}

/** A community with a room owned by `owner`; `members` join both. */
async function room(owner: User, members: User[] = []) {
  const community = await owner.client.scopes.create.mutate({ kind: 'community', name: 'Media' });
  const r = await owner.client.scopes.create.mutate({ kind: 'room', parentId: community.id, name: 'files' });
  for (const m of members) {
    await m.client.members.join.mutate({ scopeId: community.id });
    await m.client.members.join.mutate({ scopeId: r.id });
  }
  return { community, room: r };
}

/** The conversation's attachment.updated events from now on. */
async function watch(u: User, scopeId: string): Promise<Collected<ScopeStreamEvent>> {
  const { lastSeq } = await u.client.scopes.get.query({ scopeId });
  const sub = collect<ScopeStreamEvent>((h) => u.client.messages.onEvent.subscribe({ scopeId, lastEventId: String(lastSeq) }, h));
  await sub.started;
  return sub;
}

/** Waits for the attachment.updated event of `attachmentId`. */
async function updateOf(sub: Collected<ScopeStreamEvent>, attachmentId: string): Promise<Updated> {
  for (let n = 1; ; n = sub.items.length + 1) {
    const found = (await sub.until(n)).find((e): e is Updated => e.type === 'attachment.updated' && e.attachment.id === attachmentId);
    if (found) return found;
  }
}

/** createUpload, send a message carrying it (pending), then upload the bytes. */
async function sendWith(u: User, scopeId: string, file: { body: Buffer; type: string; name: string; declaredSize?: number }) {
  const ticket = await u.client.media.createUpload.mutate({ scopeId, filename: file.name, contentType: file.type, size: file.declaredSize ?? file.body.length });
  const message = await u.client.messages.send.mutate({ scopeId, body: `here is ${file.name}`, attachmentIds: [ticket.attachmentId] });
  await postUpload(ticket, file.body, file.type);
  return { ticket, message };
}

const s3 = () => server.services.storage;
async function exists(key: string): Promise<boolean> {
  try {
    await s3().client.send(new HeadObjectCommand({ Bucket: s3().bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}
async function keysUnder(prefixKey: string): Promise<string[]> {
  const res = await s3().client.send(new ListObjectsV2Command({ Bucket: s3().bucket, Prefix: prefixKey }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}
async function download(u: User, attachmentId: string, variant?: '160' | '640' | '1280') {
  const link = await u.client.media.downloadUrl.query({ attachmentId, ...(variant ? { variant } : {}) });
  const res = await fetch(link.url);
  expect(res.status).toBe(200);
  return { link, res, body: Buffer.from(await res.arrayBuffer()) };
}

describe('media pipeline through the SDK, embedded s3rver and the real handler', () => {
  it('a JPEG with GPS EXIF becomes ready: oriented, metadata stripped, three WebP variants never upscaled, ThumbHash', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { room: r } = await room(alice, [bob]);
    const sub = await watch(bob, r.id);
    const jpeg = await gpsJpeg();
    expect(hasGpsIfd((await sharp(jpeg).metadata()).exif)).toBe(true);

    const { ticket, message } = await sendWith(alice, r.id, { body: jpeg, type: 'image/jpeg', name: 'holiday.jpg' });
    expect(message.attachments).toMatchObject([{ id: ticket.attachmentId, status: 'pending', filename: 'holiday.jpg', contentType: 'image/jpeg' }]);
    expect(ticket.fields).toMatchObject({ key: `uploads/${ticket.attachmentId}`, 'Content-Type': 'image/jpeg' });
    expect(ticket.maxBytes).toBe(jpeg.length);

    const ev = await updateOf(sub, ticket.attachmentId);
    expect(ev.seq).toBeGreaterThan(message.seq);
    expect(ev.messageId).toBe(message.id);
    expect(ev.attachment).toMatchObject({ status: 'ready', isImage: true, width: 200, height: 300, animated: false, size: jpeg.length });
    expect(ev.attachment.thumbhash).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(ev.attachment.variants).toEqual([
      expect.objectContaining({ name: '160', width: 107, height: 160 }),
      expect.objectContaining({ name: '640', width: 200, height: 300 }),
      expect.objectContaining({ name: '1280', width: 200, height: 300 }),
    ]);
    sub.stop();

    // The upload with its metadata is gone; what is served has none.
    expect(await exists(`uploads/${ticket.attachmentId}`)).toBe(false);
    const full = await download(bob, ticket.attachmentId);
    expect(full.link.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect(full.res.headers.get('content-type')).toBe('image/jpeg');
    expect(full.res.headers.get('content-disposition')).toMatch(/^inline; filename="holiday.jpg"/);
    const fullMeta = await sharp(full.body).metadata();
    expect(fullMeta).toMatchObject({ format: 'jpeg', width: 200, height: 300 });
    expect(fullMeta.exif).toBeUndefined();
    expect(fullMeta.orientation).toBeUndefined();
    for (const v of ['160', '640', '1280'] as const) {
      const got = await download(bob, ticket.attachmentId, v);
      expect(got.res.headers.get('content-type')).toBe('image/webp');
      const meta = await sharp(got.body).metadata();
      expect(meta.format).toBe('webp');
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect([meta.width, meta.height]).toEqual(v === '160' ? [107, 160] : [200, 300]);
    }
    const again = await alice.client.messages.get.query({ scopeId: r.id, messageId: message.id });
    expect(again.attachments[0]).toMatchObject({ status: 'ready', width: 200, height: 300 });
  });
});
