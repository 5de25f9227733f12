import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../../src/server.js';
import type { ScopeStreamEvent } from '../../sdk/src/index.js';
import { createTestDatabase } from '../helpers/db.js';
import { closeClient, signUpClient, startServer, testPrefix } from '../helpers/server.js';
import { collect } from '../helpers/subscribe.js';
import { gpsJpeg, postUpload } from './fixtures.js';

/**
 * Service mode: S3_ENDPOINT/S3_BUCKET point the server at a store it does not run (here an
 * s3rver of the test's own, standing in for S3 or MinIO), so the server processes nothing
 * itself. The store's notifications go to the exported Lambda entry point, `handler`, with
 * the environment a deployed function has.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-s3-service-'));
const bucket = 'guildhall-media-test';
const token = randomBytes(32).toString('base64url');
let store: S3rver;
let endpoint: string;
let server: GuildhallServer;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
const events: S3Event[] = [];
const waiting: ((e: S3Event) => void)[] = [];

/** The next notification the store sends. */
function nextEvent(): Promise<S3Event> {
  const e = events.shift();
  return e ? Promise.resolve(e) : new Promise((resolve) => waiting.push(resolve));
}

beforeAll(async () => {
  store = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await store.run();
  endpoint = `http://127.0.0.1:${port}`;
  (store as unknown as NodeJS.EventEmitter).on('event', (e: S3Event) => {
    if (!e.Records[0]!.eventName.startsWith('ObjectCreated:')) return; // as the template's filter: ObjectCreated only
    const w = waiting.shift();
    if (w) w(e);
    else events.push(e);
  });
  db = await createTestDatabase();
  server = await startServer({
    databaseUrl: db.url,
    redisPrefix: testPrefix(),
    env: { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', MEDIA_SERVICE_TOKEN: token },
  });
  Object.assign(process.env, {
    GUILDHALL_URL: server.url,
    GUILDHALL_SERVICE_TOKEN: token,
    S3_ENDPOINT: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  });
});
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('service mode: S3_ENDPOINT/S3_BUCKET and the Lambda entry point', () => {
  it('runs no pipeline in process; the store notifies the handler, which reports back with the service token', async () => {
    const { handler } = await import('../../src/lambda/media.js');
    const alice = await signUpClient(server.url, 'svc');
    const community = await alice.client.scopes.create.mutate({ kind: 'community', name: 'Service' });
    const sub = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: community.id, lastEventId: '0' }, h));
    await sub.started;
    const jpeg = await gpsJpeg();
    const ticket = await alice.client.media.createUpload.mutate({ scopeId: community.id, filename: 'a.jpg', contentType: 'image/jpeg', size: jpeg.length });
    expect(ticket.url.startsWith(endpoint)).toBe(true);
    await alice.client.messages.send.mutate({ scopeId: community.id, body: 'photo', attachmentIds: [ticket.attachmentId] });
    await postUpload(ticket, jpeg, 'image/jpeg');
    const created = await nextEvent();
    expect(created.Records[0]!.s3.object.key).toBe(`uploads/${ticket.attachmentId}`);
    // The server itself processes nothing in service mode.
    await server.mediaPipeline.idle();
    expect((await alice.client.media.get.query({ attachmentId: ticket.attachmentId })).status).toBe('pending');

    // S3 delivers at least once: the same event twice, at the same time.
    const outcomes = await Promise.all([handler(created), handler(created)]);
    expect(outcomes.map((o) => o.outcomes[0]).sort()).toEqual(['ready', 'skipped']);
    // The handler's own writes notify too; they are outside uploads/, so it ignores them.
    for (let i = 0; i < 4; i++) {
      const own = await nextEvent();
      expect(own.Records[0]!.s3.object.key.startsWith(`media/${ticket.attachmentId}/`)).toBe(true);
      expect((await handler(own)).outcomes).toEqual(['skipped']);
    }
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(
      ['1280.webp', '160.webp', '640.webp', 'full.jpeg'].map((n) => `media/${ticket.attachmentId}/${n}`),
    );
    s3.destroy();

    let updated: Extract<ScopeStreamEvent, { type: 'attachment.updated' }> | undefined;
    for (let n = 1; !updated; n = sub.items.length + 1) {
      updated = (await sub.until(n)).find((e): e is Extract<ScopeStreamEvent, { type: 'attachment.updated' }> => e.type === 'attachment.updated');
    }
    expect(updated.attachment).toMatchObject({ id: ticket.attachmentId, status: 'ready', width: 200, height: 300 });
    sub.stop();
    closeClient(alice.client);
  });

  it('a store without Lambdas (MinIO) posts its notifications to POST /media/s3-events with the service token', async () => {
    const alice = await signUpClient(server.url, 'minio');
    const community = await alice.client.scopes.create.mutate({ kind: 'community', name: 'Webhook' });
    const sub = collect<ScopeStreamEvent>((h) => alice.client.messages.onEvent.subscribe({ scopeId: community.id, lastEventId: '0' }, h));
    await sub.started;
    const jpeg = await gpsJpeg();
    const ticket = await alice.client.media.createUpload.mutate({ scopeId: community.id, filename: 'w.jpg', contentType: 'image/jpeg', size: jpeg.length });
    await alice.client.messages.send.mutate({ scopeId: community.id, body: '', attachmentIds: [ticket.attachmentId] });
    await postUpload(ticket, jpeg, 'image/jpeg');
    const event = await nextEvent();
    const post = (auth?: string) =>
      fetch(`${server.url}/media/s3-events`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify(event) });
    expect((await post()).status).toBe(401);
    expect((await post('Bearer not-the-token')).status).toBe(401);
    const bad = await fetch(`${server.url}/media/s3-events`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"no":"records"}' });
    expect(bad.status).toBe(400);
    const ok = await post(`Bearer ${token}`);
    expect(ok.status).toBe(202);
    let updated: Extract<ScopeStreamEvent, { type: 'attachment.updated' }> | undefined;
    for (let n = 1; !updated; n = sub.items.length + 1) {
      updated = (await sub.until(n)).find((e): e is Extract<ScopeStreamEvent, { type: 'attachment.updated' }> => e.type === 'attachment.updated');
    }
    expect(updated.attachment).toMatchObject({ id: ticket.attachmentId, status: 'ready', width: 200, height: 300 });
    // The handler's own writes, posted too, are skipped; so is the upload's event again.
    for (let i = 0; i < 4; i++) {
      const own = await nextEvent();
      expect(own.Records[0]!.s3.object.key.startsWith(`media/${ticket.attachmentId}/`)).toBe(true);
      await fetch(`${server.url}/media/s3-events`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(own) });
    }
    expect((await post(`Bearer ${token}`)).status).toBe(202);
    await server.mediaPipeline.idle();
    expect((await alice.client.media.get.query({ attachmentId: ticket.attachmentId })).status).toBe('ready');
    expect(sub.items.filter((e) => e.type === 'attachment.updated')).toHaveLength(1);
    sub.stop();
    closeClient(alice.client);
  });
});
