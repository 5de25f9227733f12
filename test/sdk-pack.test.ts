import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/db.js';
import { REPO_ROOT } from './helpers/process.js';
import { startServer, testPrefix } from './helpers/server.js';
import type { GuildhallServer } from '../src/server.js';

const run = promisify(execFile);
const work = mkdtempSync(path.join(tmpdir(), 'guildhall-sdk-'));
const consumer = path.join(work, 'consumer');
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
}, 120_000);
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

const consumerSource = (serverUrl: string) => `
import { createClient, closeClient, type RouterInputs, type RouterOutputs } from '@guildhall/sdk';

const url = '${serverUrl}';
const anon = createClient({ url });
const input: RouterInputs['auth']['signUp'] = { email: \`c\${Date.now()}@example.com\`, password: 'consumer-pass', displayName: 'Consumer' };
const { token } = await anon.auth.signUp.mutate(input);
const client = createClient({ url, token });
const community = await client.scopes.create.mutate({ kind: 'community', name: 'From the SDK' });

// @ts-expect-error scopeId must be a string and body is required
await client.messages.send.mutate({ scopeId: 42 }).catch(() => undefined);

const received = new Promise<RouterOutputs['messages']['send']>((resolve, reject) => {
  const sub = client.messages.onEvent.subscribe(
    { scopeId: community.id, lastEventId: '0' },
    {
      onData: ({ id, data }) => {
        const seq: number = data.seq;
        // The events are a union discriminated on \`type\`; narrowing gives the message.
        if (data.type === 'message.created' && id === String(seq)) {
          resolve(data.message);
          sub.unsubscribe();
        }
      },
      onError: reject,
    },
  );
});
const sent = await client.messages.send.mutate({ scopeId: community.id, body: 'typed hello' });
const got = await received;
const page = await client.messages.list.query({ scopeId: community.id, limit: 10 });
closeClient(client);
console.log(JSON.stringify({ sentSeq: sent.seq, gotBody: got.body, createdAtIsDate: got.createdAt instanceof Date, listed: page.items.length }));
`;

describe('the SDK as a consumer uses it', () => {
  it('packs, installs with only its declared dependencies, typechecks and talks to a live server', async () => {
    // 1. npm pack builds it (prepack) and produces the tarball.
    const sdkDir = path.join(REPO_ROOT, 'sdk');
    const { stdout } = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: sdkDir, maxBuffer: 16 << 20 });
    const [{ filename, files }] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as [{ filename: string; files: { path: string }[] }];
    expect(files.map((f) => f.path).sort()).toEqual(
      ['LICENSE', 'README.md', 'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.ts', 'dist/index.js', 'package.json'].sort(),
    );

    // 2. Its types are self-contained: nothing from the server's source, drizzle or pg.
    const dts = readFileSync(path.join(sdkDir, 'dist/index.d.ts'), 'utf8');
    const imports = [...dts.matchAll(/from ['"]([^'"]+)['"]/g)].map((m) => m[1]!);
    expect(imports.every((i) => i.startsWith('@trpc/'))).toBe(true);
    expect(dts).not.toMatch(/drizzle|from ['"]pg['"]|\.\.\/src|ioredis|pino/);

    // 3. A new folder installs the tarball and only what it declares.
    writeFileSync(path.join(work, 'package.json'), '{}');
    rmSync(consumer, { recursive: true, force: true });
    await run('mkdir', ['-p', consumer]);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', path.join(work, filename)], { cwd: consumer, maxBuffer: 16 << 20 });
    const installed = readdirSync(path.join(consumer, 'node_modules')).concat(
      readdirSync(path.join(consumer, 'node_modules/@trpc')).map((n) => `@trpc/${n}`),
    );
    expect(installed).toEqual(expect.arrayContaining(['@guildhall', '@trpc/client', '@trpc/server', 'superjson', 'ws']));
    for (const server of ['drizzle-orm', 'pg', 'ioredis', '@electric-sql', 'pino', 'zod']) expect(installed).not.toContain(server);

    // 4. The consumer typechecks (strict, lib checks on), including the @ts-expect-error.
    writeFileSync(path.join(consumer, 'main.ts'), consumerSource(server.url));
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
          lib: ['ES2023', 'DOM', 'ESNext.Disposable'], types: [], outDir: 'out', skipLibCheck: false,
        },
        files: ['main.ts'],
      }),
    );
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const check = await run(process.execPath, [tsc, '-p', consumer], { cwd: consumer }).catch((e: { stdout: string }) => e);
    expect((check as { stdout: string }).stdout).toBe('');
    expect(existsSync(path.join(consumer, 'out/main.js'))).toBe(true);

    // A wrong input without the directive is an error.
    writeFileSync(path.join(consumer, 'main.ts'), consumerSource(server.url).replace('// @ts-expect-error scopeId must be a string and body is required\n', ''));
    const broken = await run(process.execPath, [tsc, '-p', consumer, '--noEmit'], { cwd: consumer }).then(() => '', (e: { stdout: string }) => e.stdout);
    expect(broken).toMatch(/main\.ts\(\d+,\d+\): error TS2322/);

    // 5. It runs against a live server.
    const out = await run(process.execPath, [path.join(consumer, 'out/main.js')], { cwd: consumer });
    expect(JSON.parse(out.stdout.trim())).toEqual({ sentSeq: expect.any(Number), gotBody: 'typed hello', createdAtIsDate: true, listed: 1 });
  }, 240_000);
});
