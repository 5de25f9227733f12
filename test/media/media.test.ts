import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../../src/server.js';
import { createMediaHandler } from '../../src/lambda/media.js';
import { Permission, type ScopeStreamEvent } from '../../sdk/src/index.js';
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
    // The POST policy S3 enforces takes exactly the declared size, as the pipeline does.
    const policy = JSON.parse(Buffer.from(ticket.fields['Policy']!, 'base64').toString('utf8')) as { conditions: unknown[] };
    expect(policy.conditions).toContainEqual(['content-length-range', jpeg.length, jpeg.length]);

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

describe('what the handler refuses (the object is deleted, the reason is readable)', () => {
  let alice: User;
  let scopeId: string;
  let sub: Collected<ScopeStreamEvent>;
  beforeAll(async () => {
    alice = await user('refusals');
    scopeId = (await room(alice)).room.id;
    sub = await watch(alice, scopeId);
  });
  afterAll(() => sub.stop());

  it('a 17,000 × 17,000 PNG bomb fails fast, before any pixel is decoded', async () => {
    const bomb = pngBomb();
    expect(bomb.length).toBeLessThan(200_000);
    const { ticket } = await sendWith(alice, scopeId, { body: bomb, type: 'image/png', name: 'bomb.png' });
    const uploadedAt = Date.now();
    const ev = await updateOf(sub, ticket.attachmentId);
    // Through storage, the handler, the database and the socket on a busy machine; the tight
    // bound (under a second, bounded memory) is on the handler itself in image.test.ts.
    expect(Date.now() - uploadedAt).toBeLessThan(10_000);
    expect(ev.attachment.status).toBe('failed');
    expect(ev.attachment.failureReason).toBe('the image is 17000 × 17000 pixels, over the limit of 50,000,000 pixels');
    expect(await exists(`uploads/${ticket.attachmentId}`)).toBe(false);
    expect(await keysUnder(`media/${ticket.attachmentId}/`)).toEqual([]);
    expect(await codeOf(alice.client.media.downloadUrl.query({ attachmentId: ticket.attachmentId }))).toBe('BAD_REQUEST');
  });

  it('a TIFF declared as PNG fails', async () => {
    const { ticket } = await sendWith(alice, scopeId, { body: await tiff(), type: 'image/png', name: 'scan.png' });
    const ev = await updateOf(sub, ticket.attachmentId);
    expect(ev.attachment).toMatchObject({ status: 'failed', failureReason: 'the file was declared as image/png but its bytes are image/tiff' });
    expect(await exists(`uploads/${ticket.attachmentId}`)).toBe(false);
  });

  it('a file that failed before the message was sent is sent with it, shown failed with its reason (as one that fails after)', async () => {
    const ticket = await alice.client.media.createUpload.mutate({ scopeId, filename: 'early.png', contentType: 'image/png', size: 24 });
    await postUpload(ticket, Buffer.from('this is not a png at all'), 'image/png');
    await server.mediaPipeline.idle();
    const m = await alice.client.messages.send.mutate({ scopeId, body: 'sent after it failed', attachmentIds: [ticket.attachmentId] });
    expect(m.attachments).toMatchObject([{ id: ticket.attachmentId, status: 'failed', failureReason: 'the file was declared as image/png but its bytes are not a known format' }]);
  });

  it('HTML declared as JPEG fails', async () => {
    const html = Buffer.from('<!doctype html><html><script>alert(1)</script></html>');
    const { ticket } = await sendWith(alice, scopeId, { body: html, type: 'image/jpeg', name: 'cat.jpg' });
    const ev = await updateOf(sub, ticket.attachmentId);
    expect(ev.attachment).toMatchObject({ status: 'failed', failureReason: 'the file was declared as image/jpeg but its bytes are not a known format' });
  });

  it('a body larger than declared fails and the object is gone (s3rver enforces no POST policy: the handler does)', async () => {
    const body = Buffer.concat([pdf(), Buffer.alloc(4_000, 0x20)]);
    const { ticket } = await sendWith(alice, scopeId, { body, type: 'application/pdf', name: 'big.pdf', declaredSize: 100 });
    const ev = await updateOf(sub, ticket.attachmentId);
    expect(ev.attachment).toMatchObject({ status: 'failed', failureReason: `the stored file is ${body.length} bytes but 100 were declared; upload it again with its real size` });
    expect(await exists(`uploads/${ticket.attachmentId}`)).toBe(false);
  });
});

describe('files that are not images', () => {
  it('a PDF is stored as it came and downloads as an attachment with its sniffed type', async () => {
    const alice = await user('pdf');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { ticket } = await sendWith(alice, r.id, { body: pdf(), type: 'application/pdf', name: 'report.pdf' });
    const ev = await updateOf(sub, ticket.attachmentId);
    sub.stop();
    expect(ev.attachment).toMatchObject({ status: 'ready', isImage: false, contentType: 'application/pdf', variants: [], width: null });
    // The checked bytes are copied out of the uploads prefix (a second POST there replaces nothing served).
    expect(await exists(`uploads/${ticket.attachmentId}`)).toBe(false);
    expect(await exists(`media/${ticket.attachmentId}/file`)).toBe(true);
    const got = await download(alice, ticket.attachmentId);
    expect(got.link.disposition).toBe('attachment');
    expect(got.res.headers.get('content-disposition')).toMatch(/^attachment; filename="report.pdf"/);
    expect(got.body.equals(pdf())).toBe(true);
    expect(await codeOf(alice.client.media.downloadUrl.query({ attachmentId: ticket.attachmentId, variant: '160' }))).toBe('BAD_REQUEST');
  });

  it('HTML and SVG are never served inline, nor as text/html or image/svg+xml', async () => {
    const alice = await user('svg');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const html = await sendWith(alice, r.id, { body: Buffer.from('<html><script>alert(document.cookie)</script></html>'), type: 'text/html', name: 'page.html' });
    const svg = await sendWith(alice, r.id, { body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), type: 'image/svg+xml', name: 'logo.svg' });
    for (const { ticket } of [html, svg]) {
      const ev = await updateOf(sub, ticket.attachmentId);
      expect(ev.attachment).toMatchObject({ status: 'ready', isImage: false });
      const got = await download(alice, ticket.attachmentId);
      expect(got.res.headers.get('content-disposition')).toMatch(/^attachment;/);
      expect(got.res.headers.get('content-type')).toBe('application/octet-stream');
    }
    sub.stop();
  });
});

describe('duplicate S3 events', () => {
  it('a replayed ObjectCreated event makes no second set of variants and changes nothing', async () => {
    const alice = await user('dup');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { ticket } = await sendWith(alice, r.id, { body: await png(1600, 1200), type: 'image/png', name: 'wide.png' });
    const first = await updateOf(sub, ticket.attachmentId);
    expect(first.attachment.status).toBe('ready');
    const before = await keysUnder(`media/${ticket.attachmentId}/`);
    expect(before).toEqual(['1280', '160', '640'].map((n) => `media/${ticket.attachmentId}/${n}.webp`).concat(`media/${ticket.attachmentId}/full.png`).sort());
    const { rows: [row] } = await pool.query('select completed_at from attachments where id = $1', [ticket.attachmentId]);

    const api = createClient({ url: server.url, token: server.services.media.serviceToken });
    const run = createMediaHandler({ s3: s3().client, api, log: { info() {}, warn() {}, error() {} } });
    const event = s3Event(s3().bucket, `uploads/${ticket.attachmentId}`);
    expect(await Promise.all([run(event), run(event)])).toEqual([['skipped'], ['skipped']]);
    expect(await keysUnder(`media/${ticket.attachmentId}/`)).toEqual(before);
    const { rows: [after] } = await pool.query('select completed_at from attachments where id = $1', [ticket.attachmentId]);
    expect(after.completed_at).toEqual(row.completed_at);
    // No second attachment.updated: the next event in the log is the message sent now.
    // Counted before the send: its event may arrive before the send's answer does.
    const seen = sub.items.length;
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'marker' });
    const tail = await sub.until(seen + 1);
    expect(tail.filter((e) => e.type === 'attachment.updated' && e.attachment.id === ticket.attachmentId)).toHaveLength(1);
    sub.stop();
  });

  it('a second POST of the same upload after processing replaces nothing that is served, and is deleted', async () => {
    const alice = await user('swap');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const original = Buffer.from('%PDF-1.4 the checked original..');
    const swapped = Buffer.from('<html><script>x()</script>.....');
    expect(swapped.length).toBe(original.length);
    const file = await sendWith(alice, r.id, { body: original, type: 'application/pdf', name: 'a.pdf' });
    const photo = await sendWith(alice, r.id, { body: await gpsJpeg(), type: 'image/jpeg', name: 'p.jpg' });
    for (const { ticket } of [file, photo]) expect((await updateOf(sub, ticket.attachmentId)).attachment.status).toBe('ready');
    sub.stop();
    // The presigned POST is still valid: the same fields again, other bytes (the photo's original, GPS and all, again).
    expect((await postUpload(file.ticket, swapped, 'application/pdf')).status).toBeLessThan(300);
    expect((await postUpload(photo.ticket, await gpsJpeg(), 'image/jpeg')).status).toBeLessThan(300);
    const api = createClient({ url: server.url, token: server.services.media.serviceToken });
    const run = createMediaHandler({ s3: s3().client, api, log: { info() {}, warn() {}, error() {} } });
    for (const { ticket } of [file, photo]) {
      expect(await run(s3Event(s3().bucket, `uploads/${ticket.attachmentId}`))).toEqual(['skipped']);
      expect(await exists(`uploads/${ticket.attachmentId}`)).toBe(false);
    }
    closeClient(api);
    expect((await download(alice, file.ticket.attachmentId)).body.equals(original)).toBe(true);
    expect(await alice.client.media.get.query({ attachmentId: file.ticket.attachmentId })).toMatchObject({ status: 'ready', contentType: 'application/pdf' });
  });

  it('a file made ready before files were copied out (served from its upload key) is not deleted by a replayed event', async () => {
    const alice = await user('olderfile');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { ticket } = await sendWith(alice, r.id, { body: pdf(), type: 'application/pdf', name: 'old.pdf' });
    expect((await updateOf(sub, ticket.attachmentId)).attachment.status).toBe('ready');
    sub.stop();
    // As such a row is: its key the upload key, its bytes there.
    const key = `uploads/${ticket.attachmentId}`;
    await pool.query('update attachments set key = $2 where id = $1', [ticket.attachmentId, key]);
    await s3().client.send(new PutObjectCommand({ Bucket: s3().bucket, Key: key, Body: pdf(), ContentType: 'application/pdf' }));
    const api = createClient({ url: server.url, token: server.services.media.serviceToken });
    const run = createMediaHandler({ s3: s3().client, api, log: { info() {}, warn() {}, error() {} } });
    expect(await run(s3Event(s3().bucket, key))).toEqual(['skipped']);
    closeClient(api);
    expect((await download(alice, ticket.attachmentId)).body.equals(pdf())).toBe(true);
  });

  it('media.complete changes only a claimed attachment: a second report changes nothing, an unknown id is NOT_FOUND', async () => {
    const alice = await user('twice');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { ticket } = await sendWith(alice, r.id, { body: await png(320, 200), type: 'image/png', name: 'small.png' });
    expect((await updateOf(sub, ticket.attachmentId)).attachment.status).toBe('ready');
    const api = createClient({ url: server.url, token: server.services.media.serviceToken });
    const again = await api.media.complete.mutate({ attachmentId: ticket.attachmentId, result: { status: 'failed', reason: 'late report' } });
    expect(again.changed).toBe(false);
    expect(again.attachment).toMatchObject({ id: ticket.attachmentId, status: 'ready' });
    expect(await codeOf(api.media.complete.mutate({ attachmentId: crypto.randomUUID(), result: { status: 'failed', reason: 'x' } }))).toBe('NOT_FOUND');
    closeClient(api);
    sub.stop();
  });

  it('a user token cannot call the pipeline procedures', async () => {
    const mallory = await user('mallory');
    expect(await codeOf(mallory.client.media.claim.mutate({ key: 'uploads/x' }))).toBe('UNAUTHORIZED');
    expect(
      await codeOf(mallory.client.media.complete.mutate({ attachmentId: crypto.randomUUID(), result: { status: 'failed', reason: 'x' } })),
    ).toBe('UNAUTHORIZED');
  });
});

/** The standard S3 notification event (as AWS sends a Lambda) for one ObjectCreated:Post. */
function s3Event(bucket: string, key: string) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Post',
        userIdentity: { principalId: 'AWS:TEST' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'TEST', 'x-amz-id-2': 'TEST' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'uploads',
          bucket: { name: bucket, ownerIdentity: { principalId: 'TEST' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key, size: 1, eTag: 'x', sequencer: '0' },
        },
      },
    ],
  };
}

describe('who gets a download URL', () => {
  it('a non-member gets NOT_FOUND (IDOR), and so does a member after leaving', async () => {
    const alice = await user('owner');
    const bob = await user('member');
    const carol = await user('outsider');
    const { community, room: r } = await room(alice, [bob]);
    await carol.client.members.join.mutate({ scopeId: community.id });
    const sub = await watch(alice, r.id);
    const { ticket } = await sendWith(alice, r.id, { body: await png(), type: 'image/png', name: 'p.png' });
    await updateOf(sub, ticket.attachmentId);
    sub.stop();
    const id = ticket.attachmentId;
    expect((await bob.client.media.downloadUrl.query({ attachmentId: id })).url).toMatch(/^http/);
    // carol is in the community but not in the room.
    expect(await codeOf(carol.client.media.downloadUrl.query({ attachmentId: id }))).toBe('NOT_FOUND');
    expect(await codeOf(carol.client.media.get.query({ attachmentId: id }))).toBe('NOT_FOUND');
    await bob.client.members.leave.mutate({ scopeId: r.id });
    expect(await codeOf(bob.client.media.downloadUrl.query({ attachmentId: id }))).toBe('NOT_FOUND');
    expect(await codeOf(bob.client.media.downloadUrl.query({ attachmentId: crypto.randomUUID() }))).toBe('NOT_FOUND');
  });

  it('an upload not yet sent is its uploader\'s only, and cannot be sent by someone else or twice', async () => {
    const alice = await user('a');
    const bob = await user('b');
    const { room: r } = await room(alice, [bob]);
    const ticket = await alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'x.pdf', contentType: 'application/pdf', size: 10 });
    expect(await alice.client.media.get.query({ attachmentId: ticket.attachmentId })).toMatchObject({ status: 'pending', messageId: null });
    expect(await codeOf(bob.client.media.get.query({ attachmentId: ticket.attachmentId }))).toBe('NOT_FOUND');
    expect(await codeOf(bob.client.messages.send.mutate({ scopeId: r.id, body: 'mine now', attachmentIds: [ticket.attachmentId] }))).toBe('BAD_REQUEST');
    await expect(bob.client.messages.send.mutate({ scopeId: r.id, body: 'mine now', attachmentIds: [ticket.attachmentId] })).rejects.toThrow(
      `attachment ${ticket.attachmentId} is not an upload of yours (or it has expired): attach only files you uploaded with media.createUpload`,
    );
    const sent = await alice.client.messages.send.mutate({ scopeId: r.id, body: '', attachmentIds: [ticket.attachmentId] });
    expect(sent.attachments).toHaveLength(1);
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'again', attachmentIds: [ticket.attachmentId] }))).toBe('BAD_REQUEST');
    const ids = Array.from({ length: 11 }, () => crypto.randomUUID());
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'many', attachmentIds: ids }))).toBe('BAD_REQUEST');
    // Nothing was written by the refused sends.
    const { items } = await alice.client.messages.list.query({ scopeId: r.id });
    expect(items.map((m) => m.body)).toEqual(['']);
  });
});

describe('limits and quotas (config)', () => {
  it('refuses a type or size over its limit with BAD_REQUEST naming the limit', async () => {
    const alice = await user('limits');
    const { room: r } = await room(alice);
    const upload = (contentType: string, size: number) => alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'f', contentType, size });
    await expect(upload('image/png', 25 * 1024 * 1024 + 1)).rejects.toThrow('images may be at most 25 MiB (26,214,400 bytes); this one is 26,214,401 bytes');
    await expect(upload('application/zip', 100 * 1024 * 1024 + 1)).rejects.toThrow('files may be at most 100 MiB');
    await expect(upload('not a type', 10)).rejects.toThrow(/contentType must be a MIME type/);
    expect(await codeOf(upload('image/png', 25 * 1024 * 1024))).toBeUndefined();
    expect(await codeOf(alice.client.media.createUpload.mutate({ purpose: 'avatar', filename: 'a.pdf', contentType: 'application/pdf', size: 10 }))).toBe('BAD_REQUEST');
  });

  it('refuses an 11th upload waiting to be processed, and uploads past the daily byte quota, with TOO_MANY_REQUESTS', async () => {
    const alice = await user('quota');
    const { room: r } = await room(alice);
    const upload = (size: number) => alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'f.bin', contentType: 'application/octet-stream', size });
    await Promise.all(Array.from({ length: 10 }, () => upload(1)));
    await expect(upload(1)).rejects.toThrow('you have 10 uploads waiting to be processed, the most allowed; wait for one to finish');

    const bob = await user('daily');
    const { room: r2 } = await room(bob);
    const big = () => bob.client.media.createUpload.mutate({ scopeId: r2.id, filename: 'v.mp4', contentType: 'video/mp4', size: 90 * 1024 * 1024 });
    for (let i = 0; i < 5; i++) await big();
    const err = await big().catch((e: unknown) => e);
    expect(String(err)).toMatch(/uploads are limited to 500 MiB per 24 hours; you have used 450 MiB/);
    expect(await codeOf(big())).toBe('TOO_MANY_REQUESTS');
  });

  it('needs AttachFiles in the scope', async () => {
    const alice = await user('perm');
    const bob = await user('noattach');
    const { room: r } = await room(alice, [bob]);
    await alice.client.permissions.setOverwrite.mutate({ scopeId: r.id, targetType: 'member', targetId: bob.userId, deny: Permission.AttachFiles });
    expect(await codeOf(bob.client.media.createUpload.mutate({ scopeId: r.id, filename: 'f', contentType: 'image/png', size: 10 }))).toBe('FORBIDDEN');
  });
});

describe('lifecycle: one cleanup job deletes the objects', () => {
  it('an attachment sent but never uploaded turns failed after its upload URL expired (plus an hour), with its event; a late POST is deleted', async () => {
    const alice = await user('never');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const late = await alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'late.pdf', contentType: 'application/pdf', size: pdf().length });
    const fresh = await alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'fresh.pdf', contentType: 'application/pdf', size: pdf().length });
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'soon', attachmentIds: [late.attachmentId, fresh.attachmentId] });
    // 15 min of URL lifetime and the hour of grace are past for one, a minute short for the other.
    await pool.query(`update attachments set created_at = now() - interval '76 minutes' where id = $1`, [late.attachmentId]);
    await pool.query(`update attachments set created_at = now() - interval '74 minutes' where id = $1`, [fresh.attachmentId]);
    await server.services.mediaCleanup.runOnce();
    const ev = await updateOf(sub, late.attachmentId);
    sub.stop();
    expect(ev.attachment).toMatchObject({ status: 'failed', failureReason: 'the file never arrived in storage before its upload URL expired; upload it again' });
    expect(await alice.client.media.get.query({ attachmentId: fresh.attachmentId })).toMatchObject({ status: 'pending' });
    // The file arrives after all (s3rver takes the expired POST): its event finds the attachment settled.
    await postUpload(late, pdf(), 'application/pdf');
    const api = createClient({ url: server.url, token: server.services.media.serviceToken });
    const run = createMediaHandler({ s3: s3().client, api, log: { info() {}, warn() {}, error() {} } });
    expect(await run(s3Event(s3().bucket, `uploads/${late.attachmentId}`))).toEqual(['skipped']);
    closeClient(api);
    expect(await exists(`uploads/${late.attachmentId}`)).toBe(false);
    expect(await alice.client.media.get.query({ attachmentId: late.attachmentId })).toMatchObject({ status: 'failed' });
  });

  async function readyImage(u: User, scopeId: string, sub: Collected<ScopeStreamEvent>) {
    const { ticket, message } = await sendWith(u, scopeId, { body: await png(), type: 'image/png', name: 'p.png' });
    await updateOf(sub, ticket.attachmentId);
    expect((await keysUnder(`media/${ticket.attachmentId}/`)).length).toBe(4);
    return { id: ticket.attachmentId, message };
  }

  it('deleting a message deletes its objects (trigger marks, the job deletes)', async () => {
    const alice = await user('deleter');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { id, message } = await readyImage(alice, r.id, sub);
    sub.stop();
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: message.id });
    expect(await codeOf(alice.client.media.downloadUrl.query({ attachmentId: id }))).toBe('NOT_FOUND');
    expect((await alice.client.messages.get.query({ scopeId: r.id, messageId: message.id })).attachments).toEqual([]);
    expect(await server.services.mediaCleanup.runOnce()).toBeGreaterThanOrEqual(1);
    expect(await keysUnder(`media/${id}/`)).toEqual([]);
    expect((await pool.query('select 1 from attachments where id = $1', [id])).rowCount).toBe(0);
  });

  it("a ban's purge of the member's messages deletes their objects", async () => {
    const alice = await user('mod');
    const bob = await user('spammer');
    const { community, room: r } = await room(alice, [bob]);
    const sub = await watch(alice, r.id);
    const { id } = await readyImage(bob, r.id, sub);
    sub.stop();
    await alice.client.moderation.ban.mutate({ scopeId: community.id, userId: bob.userId, purgeSeconds: 3600 });
    await server.services.mediaCleanup.runOnce();
    expect(await keysUnder(`media/${id}/`)).toEqual([]);
    expect((await pool.query('select 1 from attachments where id = $1', [id])).rowCount).toBe(0);
  });

  it("deleting a scope deletes the objects of its subtree's attachments (scopes.delete of the community)", async () => {
    const alice = await user('scopedeleter');
    const { community, room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { id } = await readyImage(alice, r.id, sub);
    const pending = await alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'later.pdf', contentType: 'application/pdf', size: pdf().length });
    await alice.client.messages.send.mutate({ scopeId: r.id, body: 'soon', attachmentIds: [pending.attachmentId] });
    sub.stop();
    await alice.client.scopes.delete.mutate({ scopeId: community.id });
    await server.services.mediaCleanup.runOnce();
    expect(await keysUnder(`media/${id}/`)).toEqual([]);
    expect((await pool.query('select id from attachments where id = any($1)', [[id, pending.attachmentId]])).rowCount).toBe(0);
  });

  it('attachment rows removed by a cascade (a scope row deleted by raw SQL) still get their objects deleted', async () => {
    const alice = await user('cascade');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { id } = await readyImage(alice, r.id, sub);
    sub.stop();
    await pool.query('delete from scopes where id = $1', [r.id]);
    expect((await pool.query('select 1 from attachments where id = $1', [id])).rowCount).toBe(0);
    await server.services.mediaCleanup.runOnce();
    expect(await keysUnder(`media/${id}/`)).toEqual([]);
    expect((await pool.query('select 1 from media_object_deletions')).rowCount).toBe(0);
  });

  it('an upload never attached expires after 24 h; one still in its 24 h stays', async () => {
    const alice = await user('expiry');
    const { room: r } = await room(alice);
    const make = async () => {
      const t = await alice.client.media.createUpload.mutate({ scopeId: r.id, filename: 'x.pdf', contentType: 'application/pdf', size: pdf().length });
      await postUpload(t, pdf(), 'application/pdf');
      return t.attachmentId;
    };
    const old = await make();
    const fresh = await make();
    // Let the pipeline finish both first: under load it could still be writing one when the job runs.
    await server.mediaPipeline.idle();
    await pool.query(`update attachments set created_at = now() - interval '24 hours 1 minute' where id = $1`, [old]);
    await server.services.mediaCleanup.runOnce();
    expect(await exists(`uploads/${old}`)).toBe(false);
    expect((await pool.query('select id from attachments where id = any($1)', [[old, fresh]])).rows.map((x) => x.id)).toEqual([fresh]);
    expect(await codeOf(alice.client.media.get.query({ attachmentId: old }))).toBe('NOT_FOUND');
    expect(await codeOf(alice.client.messages.send.mutate({ scopeId: r.id, body: 'late', attachmentIds: [old] }))).toBe('BAD_REQUEST');
  });

  it('the trigger marks a message\'s attachments when the message is deleted by raw SQL', async () => {
    const alice = await user('raw');
    const { room: r } = await room(alice);
    const m = await alice.client.messages.send.mutate({ scopeId: r.id, body: 'raw' });
    const { rows: [a] } = await pool.query(
      `insert into attachments (owner_id, scope_id, message_id, key, filename, declared_type, declared_size)
       values ($1, $2, $3, 'uploads/' || gen_random_uuid(), 'f', 'application/pdf', 10) returning id`,
      [alice.userId, r.id, m.id],
    );
    await pool.query('update messages set body = $2 where id = $1', [m.id, 'edited']);
    expect((await pool.query('select delete_requested_at from attachments where id = $1', [a.id])).rows[0].delete_requested_at).toBeNull();
    await pool.query('update messages set deleted_at = now() where id = $1', [m.id]);
    expect((await pool.query('select delete_requested_at from attachments where id = $1', [a.id])).rows[0].delete_requested_at).toBeInstanceOf(Date);
  });
});

describe('avatars and scope icons go through the same pipeline', () => {
  async function untilReady(u: User, attachmentId: string) {
    // No conversation carries an avatar's progress; the pipeline is awaited through the server.
    await server.mediaPipeline.idle();
    return u.client.media.get.query({ attachmentId });
  }

  it('users.setAvatar: stripped and resized, visible to any signed-in user; the previous one is deleted', async () => {
    const alice = await user('avatar');
    const bob = await user('viewer');
    const upload = async () => {
      const jpeg = await gpsJpeg();
      const t = await alice.client.media.createUpload.mutate({ purpose: 'avatar', filename: 'me.jpg', contentType: 'image/jpeg', size: jpeg.length });
      await alice.client.users.setAvatar.mutate({ attachmentId: t.attachmentId });
      await postUpload(t, jpeg, 'image/jpeg');
      return t.attachmentId;
    };
    const first = await upload();
    expect(await untilReady(alice, first)).toMatchObject({ status: 'ready', purpose: 'avatar', width: 200, height: 300 });
    expect(await bob.client.users.avatar.query({ userId: alice.userId })).toMatchObject({ id: first });
    const got = await download(bob, first, '160');
    expect((await sharp(got.body).metadata()).exif).toBeUndefined();

    const second = await upload();
    await untilReady(alice, second);
    expect(await bob.client.users.avatar.query({ userId: alice.userId })).toMatchObject({ id: second });
    await server.services.mediaCleanup.runOnce();
    expect(await keysUnder(`media/${first}/`)).toEqual([]);
    expect(await codeOf(bob.client.media.downloadUrl.query({ attachmentId: first }))).toBe('NOT_FOUND');
    expect(await codeOf(bob.client.users.setAvatar.mutate({ attachmentId: second }))).toBe('NOT_FOUND');
  });

  it('scopes.setIcon needs ManageScope; the icon is visible to who can view the scope', async () => {
    const alice = await user('iconowner');
    const bob = await user('iconmember');
    const carol = await user('iconoutsider');
    const { room: r } = await room(alice, [bob]);
    const image = await png(512, 512);
    expect(await codeOf(bob.client.media.createUpload.mutate({ purpose: 'icon', scopeId: r.id, filename: 'i.png', contentType: 'image/png', size: image.length }))).toBe('FORBIDDEN');
    const t = await alice.client.media.createUpload.mutate({ purpose: 'icon', scopeId: r.id, filename: 'i.png', contentType: 'image/png', size: image.length });
    const sub = await watch(bob, r.id);
    await alice.client.scopes.setIcon.mutate({ scopeId: r.id, attachmentId: t.attachmentId });
    await postUpload(t, image, 'image/png');
    const ev = await updateOf(sub, t.attachmentId);
    sub.stop();
    expect(ev.attachment).toMatchObject({ purpose: 'icon', status: 'ready', width: 512, height: 512 });
    expect(await bob.client.scopes.icon.query({ scopeId: r.id })).toMatchObject({ id: t.attachmentId });
    expect((await download(bob, t.attachmentId, '160')).body.length).toBeGreaterThan(0);
    expect(await codeOf(carol.client.media.downloadUrl.query({ attachmentId: t.attachmentId }))).toBe('NOT_FOUND');
    expect(await codeOf(bob.client.scopes.setIcon.mutate({ scopeId: r.id, attachmentId: t.attachmentId }))).toBe('FORBIDDEN');
  });
});

describe('the cleanup job survives a restart', () => {
  it('what one instance marked is deleted by the next one on the same data', async () => {
    const alice = await user('restart');
    const { room: r } = await room(alice);
    const sub = await watch(alice, r.id);
    const { ticket, message } = await sendWith(alice, r.id, { body: await png(), type: 'image/png', name: 'keep.png' });
    await updateOf(sub, ticket.attachmentId);
    sub.stop();
    await alice.client.messages.delete.mutate({ scopeId: r.id, messageId: message.id });
    closeClient(alice.client);
    await server.close(100);
    // A new instance on the same database and DATA_DIR (its s3rver serves the same files).
    server = await startServer({ databaseUrl: db.url, redisPrefix: prefix, env });
    expect(await keysUnder(`media/${ticket.attachmentId}/`)).toHaveLength(4);
    await server.services.mediaCleanup.runOnce();
    expect(await keysUnder(`media/${ticket.attachmentId}/`)).toEqual([]);
  });
});
