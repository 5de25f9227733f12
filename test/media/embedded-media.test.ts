import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeClient, createClient, type ScopeStreamEvent } from '../../sdk/src/index.js';
import { freePort, runMain } from '../helpers/process.js';
import { collect } from '../helpers/subscribe.js';
import { png, postUpload } from './fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-embedded-media-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded mode (npm start with no variables): s3rver and the pipeline in process', () => {
  it('uploads to the loopback s3rver, keeps the files under DATA_DIR, and processes them in process', async () => {
    const port = await freePort();
    const main = runMain(dir, { PORT: String(port) });
    await main.waitFor(/guildhall listening/);
    const url = `http://127.0.0.1:${port}`;
    const { token } = await createClient({ url }).auth.signUp.mutate({ email: 'media@example.com', password: 'media-password', displayName: 'M' });
    const client = createClient({ url, token });
    const community = await client.scopes.create.mutate({ kind: 'community', name: 'Files' });
    const sub = collect<ScopeStreamEvent>((h) => client.messages.onEvent.subscribe({ scopeId: community.id, lastEventId: '0' }, h));
    await sub.started;
    const image = await png(800, 600);
    const ticket = await client.media.createUpload.mutate({ scopeId: community.id, filename: 'shot.png', contentType: 'image/png', size: image.length });
    expect(ticket.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/guildhall$/);
    await client.messages.send.mutate({ scopeId: community.id, body: '', attachmentIds: [ticket.attachmentId] });
    await postUpload(ticket, image, 'image/png');
    let ready: ScopeStreamEvent | undefined;
    for (let n = 1; !ready; n = sub.items.length + 1) ready = (await sub.until(n)).find((e) => e.type === 'attachment.updated');
    expect(ready).toMatchObject({ type: 'attachment.updated', attachment: { status: 'ready', width: 800, height: 600 } });
    sub.stop();
    closeClient(client);
    const objects = path.join(dir, 'data', 's3', 'guildhall', 'media', ticket.attachmentId);
    expect(existsSync(objects)).toBe(true);
    expect(readdirSync(objects).length).toBeGreaterThan(0);
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
  }, 120_000); // a cold PGlite start with every migration, on a busy 2-core machine
});
