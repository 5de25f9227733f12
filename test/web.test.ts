/**
 * The browser example (examples/web) in a real browser: Debian's headless Chromium driven
 * by playwright-core, the page built by vite and served from its own origin, the server
 * live on another origin. Two browser contexts are two users.
 *
 * UPDATE_SCREENSHOT=1 also writes the screenshot to docs/web-client.png (shown in README.md).
 */
import { existsSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuildhallServer } from '../src/server.js';
import { createTestDatabase } from './helpers/db.js';
import { REPO_ROOT, freePort } from './helpers/process.js';
import { createClient, startServer, testPrefix } from './helpers/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * The longest any one wait may take (ms). Every wait is for an event on the page; this is
 * only a ceiling, high because the host is shared (2 cores, load averages past 30 seen).
 */
const WAIT_MS = 45_000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const configFile = path.join(REPO_ROOT, 'examples/web/vite.config.ts');
const work = mkdtempSync(path.join(tmpdir(), 'guildhall-web-'));
const outDir = path.join(work, 'dist');
const screenshot = path.join(work, 'web-client.png');

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let web: PreviewServer;
let elsewhere: PreviewServer;
let webOrigin: string;
let otherOrigin: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function serve(port: number): Promise<PreviewServer> {
  return preview({ configFile, logLevel: 'silent', build: { outDir }, preview: { host: '127.0.0.1', port, strictPort: true } });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  await build({ configFile, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  const [webPort, otherPort] = [await freePort(), await freePort()];
  [web, elsewhere] = await Promise.all([serve(webPort), serve(otherPort)]);
  webOrigin = `http://127.0.0.1:${webPort}`;
  otherOrigin = `http://127.0.0.1:${otherPort}`;
  db = await createTestDatabase();
  // Service mode: only the listed origin may call.
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix(), env: { DATABASE_URL: db.url, CORS_ORIGINS: webOrigin } });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await Promise.all([web?.close(), elsewhere?.close()]);
  await server?.close(100);
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

async function openPage(origin: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 620 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(`${origin}/?server=${encodeURIComponent(server.url)}`);
  return page;
}

async function signUp(page: Page, name: string, email: string): Promise<void> {
  await page.fill('#auth-form input[name=email]', email);
  await page.fill('#auth-form input[name=password]', 'correct horse battery');
  await page.fill('#auth-form input[name=displayName]', name);
  await page.click('#auth-form button[value=signUp]');
}

const messageLine = (page: Page, author: string, body: string) =>
  page.locator('#messages li', { has: page.locator('.author', { hasText: author }) }).filter({ has: page.locator('.body', { hasText: body }) });

const pollBox = (page: Page, question: string) => page.locator('#messages .poll', { has: page.locator('.question', { hasText: question }) });
const optionOf = (page: Page, question: string, text: string) => pollBox(page, question).locator('.option', { hasText: text });

/** Fills the composer's poll form and posts it. */
async function postPoll(page: Page, question: string, options: string[], resultsVisibility = 'always'): Promise<void> {
  await page.click('#poll-toggle');
  await page.fill('#poll-form input[name=question]', question);
  for (let i = 0; i < options.length; i++) {
    if (i >= 2) await page.click('#poll-add-option');
    await page.locator('#poll-form .poll-options input').nth(i).fill(options[i]!);
  }
  await page.selectOption('#poll-form select[name=resultsVisibility]', resultsVisibility);
  await page.click('#poll-form button:text-is("Post poll")');
  await page.waitForSelector('#poll-form', { state: 'hidden' });
}

async function vote(page: Page, question: string, text: string): Promise<void> {
  await optionOf(page, question, text).locator('input').check();
  await pollBox(page, question).locator('button.vote').click();
}

async function say(page: Page, body: string): Promise<void> {
  await page.fill('#composer input', body);
  await page.press('#composer input', 'Enter');
}

describe('the web client in headless Chromium', () => {
  it('two users talk across origins: invite, polls, files, unread counts, typing, presence, resume, paging', async () => {
    const stamp = Date.now();
    const alice = await openPage(webOrigin);
    await signUp(alice, 'Alice', `alice-${stamp}@example.com`);
    await alice.waitForSelector('#chat:not([hidden])');
    await alice.waitForSelector('#connection[data-state=live]');

    // Alice creates a community and a room in it, writes, and makes an invite.
    await alice.fill('#community-form input', 'Guild');
    await alice.press('#community-form input', 'Enter');
    await alice.waitForSelector('#title:text-is("Guild")');
    await alice.fill('#room-form input', 'lobby');
    await alice.press('#room-form input', 'Enter');
    await alice.waitForSelector('#title:text-is("# lobby")');
    await say(alice, 'first message');
    await messageLine(alice, 'Alice', 'first message').and(alice.locator(':not(.pending)')).waitFor();
    await alice.click('#invite');
    const code = (await alice.locator('#invite-code').filter({ hasText: /\S/ }).textContent())!.trim();
    expect(code).toMatch(/^[A-Za-z0-9_-]+$/);

    // Bob joins by the code and lands in the room, with its history.
    const bob = await openPage(webOrigin);
    await signUp(bob, 'Bob', `bob-${stamp}@example.com`);
    await bob.waitForSelector('#chat:not([hidden])');
    await bob.fill('#join-form input', code);
    await bob.press('#join-form input', 'Enter');
    await bob.waitForSelector('#title:text-is("# lobby")');
    await messageLine(bob, 'Alice', 'first message').waitFor();
    // Presence: Alice has a live socket.
    await bob.locator('#members li[data-status=online]', { hasText: 'Alice' }).waitFor();

    // Typing, then a message, each way.
    await bob.type('#composer input', 'hi Al', { delay: 20 });
    await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
    await bob.fill('#composer input', 'hi Alice, Bob here');
    await bob.press('#composer input', 'Enter');
    await messageLine(alice, 'Bob', 'hi Alice, Bob here').waitFor();
    await say(alice, 'welcome, Bob!');
    await messageLine(bob, 'Alice', 'welcome, Bob!').waitFor();
    await alice.locator('#typing:text-is("")').waitFor();

    // A poll from the composer: Bob sees it and votes, Alice's count moves live (poll.updated).
    await postPoll(alice, 'Lunch?', ['Pizza', 'Sushi', 'Tacos']);
    await optionOf(bob, 'Lunch?', 'Tacos').waitFor();
    await optionOf(bob, 'Lunch?', 'Sushi').locator('.count:text-is("0")').waitFor();
    await vote(bob, 'Lunch?', 'Sushi');
    await optionOf(alice, 'Lunch?', 'Sushi').locator('.count:text-is("1")').waitFor();
    await pollBox(alice, 'Lunch?').locator('.poll-meta', { hasText: '1 voter ·' }).waitFor();
    // Bob changes his mind: the vote moves, the voter count stays.
    await pollBox(bob, 'Lunch?').locator('button.vote:text-is("Change vote")').waitFor();
    await vote(bob, 'Lunch?', 'Pizza');
    await optionOf(alice, 'Lunch?', 'Pizza').locator('.count:text-is("1")').waitFor();
    await optionOf(alice, 'Lunch?', 'Sushi').locator('.count:text-is("0")').waitFor();
    await pollBox(alice, 'Lunch?').locator('.poll-meta', { hasText: '1 voter ·' }).waitFor();

    // Results hidden until the close: nobody sees counts, Bob's vote included; the close shows them to both.
    await postPoll(alice, 'Secret?', ['Yes', 'No'], 'afterClose');
    await pollBox(bob, 'Secret?').locator('.poll-meta', { hasText: 'results hidden until it closes' }).waitFor();
    await vote(bob, 'Secret?', 'Yes');
    await pollBox(alice, 'Secret?').locator('.poll-meta', { hasText: '1 voter ·' }).waitFor();
    expect(await pollBox(alice, 'Secret?').locator('.count').count()).toBe(0);
    expect(await pollBox(bob, 'Secret?').locator('.count').count()).toBe(0);
    await pollBox(alice, 'Secret?').locator('button.close-poll').click();
    await optionOf(bob, 'Secret?', 'Yes').locator('.count:text-is("1")').waitFor();
    await pollBox(bob, 'Secret?').locator('.poll-meta', { hasText: 'closed' }).waitFor();
    await optionOf(alice, 'Secret?', 'Yes').locator('.count:text-is("1")').waitFor();

    // Files: uploaded from the page straight to the store (presigned POST, CORS), then sent.
    const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 75, g: 87, b: 214 } } }).png().toBuffer();
    await alice.setInputFiles('#attach-input', [
      { name: 'square.png', mimeType: 'image/png', buffer: png },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('bring snacks\n') },
      { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('this is not a png at all') },
    ]);
    await expect.poll(() => alice.locator('#upload-tray .chip[data-state=uploaded]').count(), { timeout: WAIT_MS }).toBe(3);
    await say(alice, 'the plan, and a picture');
    const shared = messageLine(bob, 'Alice', 'the plan, and a picture');
    const image = shared.locator('.attachment[data-status=ready] img[alt="square.png"]');
    await image.waitFor();
    // The decoded thumbnail's width (0 until it has loaded); the element is an HTMLImageElement.
    const loadedWidth = () => image.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth);
    await expect.poll(loadedWidth, { timeout: WAIT_MS }).toBe(96);
    expect(await image.getAttribute('src')).toContain('160.webp');
    const notes = shared.locator('.attachment[data-status=ready] a.download', { hasText: 'notes.txt' });
    await expect.poll(() => notes.getAttribute('href'), { timeout: WAIT_MS }).toMatch(/^http/);
    const text = await bob.evaluate((url) => fetch(url).then((r) => r.text()), (await notes.getAttribute('href'))!);
    expect(text).toBe('bring snacks\n');
    await shared.locator('.attachment[data-status=failed]', { hasText: /broken\.png .*failed: \S/ }).waitFor();
    await messageLine(alice, 'Alice', 'the plan, and a picture').locator('.attachment[data-status=ready] img').waitFor();
    await alice.screenshot({ path: screenshot });

    // Unread counts: Bob looks at the community while Alice writes in the lobby.
    await bob.click('#tree li.community > button');
    await bob.waitForSelector('#title:text-is("Guild")');
    await say(alice, 'are you there?');
    const lobbyBadge = bob.locator('#tree li.room', { hasText: 'lobby' }).locator('.badge');
    await expect.poll(() => lobbyBadge.textContent().catch(() => null), { timeout: WAIT_MS }).toBe('1');
    await bob.click('#tree li.room > button');
    await messageLine(bob, 'Alice', 'are you there?').waitFor();
    await lobbyBadge.waitFor({ state: 'detached' });

    // The network drops: Bob's socket goes, and he cannot reconnect while offline.
    await bob.context().setOffline(true);
    for (const ws of server.wsClients()) ws.terminate();
    await bob.waitForSelector('#connection[data-state=reconnecting]');
    await say(alice, 'said while you were away');
    await messageLine(alice, 'Alice', 'said while you were away').and(alice.locator(':not(.pending)')).waitFor();
    await bob.context().setOffline(false);
    await bob.waitForSelector('#connection[data-state=live]');
    await messageLine(bob, 'Alice', 'said while you were away').waitFor();
    await expect.poll(() => bob.locator('#messages li', { hasText: 'said while you were away' }).count()).toBe(1);

    // History paging: 40 more messages, then Bob reloads (his session is kept) and pages back.
    const sdk = createClient({ url: server.url, token: (await createClient({ url: server.url }).auth.signIn.mutate({ email: `alice-${stamp}@example.com`, password: 'correct horse battery' })).token });
    const scopeId = (await alice.locator('#tree li.room').getAttribute('data-scope-id'))!;
    // A send whose HTTP answer comes after the conversation's events (the answer and the
    // socket race): the late answer must not put Alice's view back to what it was at commit
    // (here an edit made before the answer arrives).
    let releaseSend!: () => void;
    const sendHeld = new Promise<void>((resolve) => (releaseSend = resolve));
    await alice.route('**/trpc/messages.send*', async (route) => {
      const response = await route.fetch();
      await sendHeld;
      await route.fulfill({ response });
    });
    await say(alice, 'answered late');
    const late = messageLine(alice, 'Alice', 'answered late').and(alice.locator(':not(.pending)'));
    await late.waitFor();
    const lateId = (await late.getAttribute('data-message-id'))!;
    await sdk.messages.edit.mutate({ scopeId, messageId: lateId, body: 'edited before the answer' });
    await messageLine(alice, 'Alice', 'edited before the answer').waitFor();
    const answered = alice.waitForResponse('**/trpc/messages.send*');
    releaseSend();
    await answered;
    await alice.unroute('**/trpc/messages.send*');
    // The page has run the answer's handlers once a task queued after it has run.
    await alice.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
    expect(await messageLine(alice, 'Alice', 'edited before the answer').count()).toBe(1);
    expect(await messageLine(alice, 'Alice', 'answered late').count()).toBe(0);
    for (let i = 0; i < 40; i++) await sdk.messages.send.mutate({ scopeId, body: `filler ${i}` });
    await bob.reload();
    await bob.waitForSelector('#chat:not([hidden])');
    await bob.click('#tree li.room > button');
    await messageLine(bob, 'Alice', 'filler 39').waitFor();
    expect(await messageLine(bob, 'Alice', 'first message').count()).toBe(0);
    await bob.click('#older');
    await messageLine(bob, 'Alice', 'first message').waitFor();
    expect(await bob.locator('#messages > li').count()).toBe(49);
    // Polls in history come back with the page (polls.forMessages), with Bob's vote and the counts.
    await expect(optionOf(bob, 'Lunch?', 'Pizza').locator('input').isChecked()).resolves.toBe(true);
    await optionOf(bob, 'Lunch?', 'Pizza').locator('.count:text-is("1")').waitFor();
    await optionOf(bob, 'Secret?', 'Yes').locator('.count:text-is("1")').waitFor();

    const shot = readFileSync(screenshot);
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(screenshot, path.join(REPO_ROOT, 'docs/web-client.png'));
  }, 360_000);

  it('a page on an origin that is not allowed can neither call nor open a socket', async () => {
    const page = await openPage(otherOrigin);
    await signUp(page, 'Mallory', `mallory-${Date.now()}@example.com`);
    await page.locator('#auth-error', { hasText: `does its CORS_ORIGINS allow ${otherOrigin}?` }).waitFor();
    expect(await page.isHidden('#chat')).toBe(true);

    const tryOpen = (url: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.onopen = () => {
          ws.close();
          resolve('open');
        };
        ws.onerror = () => resolve('refused');
      });
    const wsUrl = `${server.url.replace('http', 'ws')}/trpc`;
    expect(await page.evaluate(tryOpen, wsUrl)).toBe('refused');
    // The same socket from the allowed origin opens: the origin made the difference.
    const allowed = await openPage(webOrigin);
    expect(await allowed.evaluate(tryOpen, wsUrl)).toBe('open');
  }, 60_000);
});
