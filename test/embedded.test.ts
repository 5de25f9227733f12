import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, closeClient } from '../sdk/src/index.js';
import { collect, messageOf } from './helpers/subscribe.js';
import { freePort, runMain } from './helpers/process.js';
import type { ScopeStreamEvent, UserEvent } from '../sdk/src/index.js';


const dir = mkdtempSync(path.join(tmpdir(), 'guildhall-embedded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded mode (npm start with no variables)', () => {
  it('chats through the SDK, stops on SIGTERM with exit 0, and keeps the history across a restart', async () => {
    const port = await freePort();
    const first = runMain(dir, { PORT: String(port) });
    const line = await first.waitFor(/guildhall listening/);
    expect(JSON.parse(line)).toMatchObject({ mode: 'embedded', database: 'pglite', redis: false, url: `http://127.0.0.1:${port}` });
    const url = `http://127.0.0.1:${port}`;

    const anon = createClient({ url });
    const alice = await anon.auth.signUp.mutate({ email: 'alice@example.com', password: 'alice-password', displayName: 'Alice' });
    const bob = await anon.auth.signUp.mutate({ email: 'bob@example.com', password: 'bob-password', displayName: 'Bob' });
    const aliceClient = createClient({ url, token: alice.token });
    const bobClient = createClient({ url, token: () => bob.token });
    const community = await aliceClient.scopes.create.mutate({ kind: 'community', name: 'Local' });
    await bobClient.members.join.mutate({ scopeId: community.id });
    const from = String((await bobClient.scopes.get.query({ scopeId: community.id })).lastSeq);
    const sub = collect<ScopeStreamEvent>((h) => bobClient.messages.onEvent.subscribe({ scopeId: community.id, lastEventId: from }, h));
    await aliceClient.messages.send.mutate({ scopeId: community.id, body: 'hello from embedded mode' });
    await bobClient.messages.send.mutate({ scopeId: community.id, body: 'hi alice' });
    const events = await sub.until(2);
    expect(events.map((e) => messageOf(e).body)).toEqual(['hello from embedded mode', 'hi alice']);
    sub.stop();
    closeClient(bobClient);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"msg":"stopped"/);
    expect(existsSync(path.join(dir, 'data', 'pglite'))).toBe(true);

    const second = runMain(dir, { PORT: String(port) });
    await second.waitFor(/guildhall listening/);
    const again = await createClient({ url }).auth.signIn.mutate({ email: 'bob@example.com', password: 'bob-password' });
    const history = await createClient({ url, token: again.token }).messages.list.query({ scopeId: community.id, limit: 10 });
    expect(history.items.map((m) => m.body)).toEqual(['hi alice', 'hello from embedded mode']);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000); // two cold PGlite starts with every migration, on a busy 2-core machine

  it('runs calendar events and their reminder scheduler on PGlite', async () => {
    const port = await freePort();
    const server = runMain(dir, { PORT: String(port), EVENT_REMINDER_POLL_MS: '200' });
    await server.waitFor(/guildhall listening/);
    const url = `http://127.0.0.1:${port}`;
    const { token } = await createClient({ url }).auth.signUp.mutate({ email: 'cal@example.com', password: 'calendar-pass', displayName: 'Cal' });
    const client = createClient({ url, token });
    const community = await client.scopes.create.mutate({ kind: 'community', name: 'Calendar' });
    // Starts in 2 minutes, UTC wall clock; a 5-minute reminder is already due.
    const startAt = new Date(Date.now() + 120_000);
    const local = startAt.toISOString().slice(0, 19);
    const stream = collect<UserEvent>((h) => client.me.onEvent.subscribe({}, h));
    await stream.started;
    const event = await client.events.create.mutate({ scopeId: community.id, title: 'Standup', start: local, end: new Date(startAt.getTime() + 900_000).toISOString().slice(0, 19), timeZone: 'UTC', rrule: 'FREQ=DAILY;COUNT=3' });
    const { items } = await client.events.instances.query({ eventId: event.id, from: new Date(), to: new Date(Date.now() + 4 * 86_400_000), limit: 10 });
    expect(items).toHaveLength(3);
    await client.events.setReminders.mutate({ eventId: event.id, minutes: [5] });
    let due: UserEvent | undefined;
    for (let n = 1; !due; n = stream.items.length + 1) due = (await stream.until(n)).find((e) => e.type === 'reminder.due');
    expect(due).toMatchObject({ type: 'reminder.due', scopeId: community.id });
    stream.stop();
    closeClient(client);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 120_000);

  it('refuses to start on a bad variable with one line naming it', async () => {
    const bad = runMain(dir, { PORT: 'not-a-port' });
    expect(await bad.exited).toBe(1);
    const lines = bad.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^guildhall: invalid environment variable PORT: /);
  });

  it('stops with exit 0, naming SIGTERM and without a drain, on a SIGTERM that comes during the start (exit 1 at once on a second), and on one sent as the listening line appears', async () => {
    const early = runMain(dir, { PORT: String(await freePort()) });
    await early.waitFor(/opening the embedded database/);
    early.child.kill('SIGTERM');
    expect(await early.exited).toBe(0);
    expect(early.output()).toMatch(/"msg":"stopped"/);
    expect(early.output()).not.toMatch(/guildhall listening/);
    // The stop names the signal that came, and skips the drain (nothing was routed here yet).
    const down = early.output().split('\n').find((l) => l.includes('"msg":"shutting down"'));
    expect(JSON.parse(down ?? 'null')).toMatchObject({ signal: 'SIGTERM' });
    expect(early.output()).not.toMatch(/"msg":"draining/);
    // A second signal during the start exits at once.
    const twice = runMain(dir, { PORT: String(await freePort()) });
    await twice.waitFor(/opening the embedded database/);
    twice.child.kill('SIGTERM');
    await twice.waitFor(/stopping once the start is done/);
    twice.child.kill('SIGTERM');
    expect(await twice.exited).toBe(1);
    expect(twice.output()).toMatch(/guildhall: SIGTERM again during the start: exiting now/);
    for (let i = 0; i < 3; i++) {
      const quick = runMain(dir, { PORT: String(await freePort()) });
      await quick.waitFor(/guildhall listening/);
      quick.child.kill('SIGTERM');
      expect(await quick.exited).toBe(0);
    }
  }, 120_000);

  it('refuses a second process on the same DATA_DIR with one line naming the first, which keeps serving', async () => {
    const port = await freePort();
    const first = runMain(dir, { PORT: String(port) });
    await first.waitFor(/guildhall listening/);
    const second = runMain(dir, { PORT: String(await freePort()) });
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(
      new RegExp(`guildhall: failed to start: DATA_DIR \\S+ is in use by another Guildhall process \\(pid ${first.child.pid}, since `),
    );
    const url = `http://127.0.0.1:${port}`;
    const { token } = await createClient({ url }).auth.signIn.mutate({ email: 'bob@example.com', password: 'bob-password' });
    expect(await createClient({ url, token }).auth.me.query()).toMatchObject({ email: 'bob@example.com' });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const third = runMain(dir, { PORT: String(port) });
    await third.waitFor(/guildhall listening/);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 120_000);
});
