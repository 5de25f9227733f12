import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
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

const sdkDir = path.join(REPO_ROOT, 'sdk');
const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
let tarball: string;
let packedFiles: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  // npm pack builds it (prepack) and produces the tarball; a new folder installs it.
  const { stdout } = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: sdkDir, maxBuffer: 16 << 20 });
  const [{ filename, files }] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as [{ filename: string; files: { path: string }[] }];
  tarball = path.join(work, filename);
  packedFiles = files.map((f) => f.path).sort();
  writeFileSync(path.join(work, 'package.json'), '{}');
  mkdirSync(consumer, { recursive: true });
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: consumer, maxBuffer: 16 << 20 });
}, 400_000);
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
    // 1. npm pack built it (prepack) and produced the tarball.
    expect(packedFiles).toEqual(
      ['LICENSE', 'README.md', 'dist/index.cjs', 'dist/index.d.cts', 'dist/index.d.ts', 'dist/index.js', 'package.json'].sort(),
    );

    // 2. Its types are self-contained: nothing from the server's source, drizzle or pg.
    const dts = readFileSync(path.join(sdkDir, 'dist/index.d.ts'), 'utf8');
    const imports = [...dts.matchAll(/from ['"]([^'"]+)['"]/g)].map((m) => m[1]!);
    expect(imports.every((i) => i.startsWith('@trpc/'))).toBe(true);
    expect(dts).not.toMatch(/drizzle|from ['"]pg['"]|\.\.\/src|ioredis|pino/);

    // 3. The new folder installed the tarball and only what it declares.
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

/** The fenced blocks of sdk/README.md of one language, in order. */
function readmeBlocks(lang: 'ts' | 'tsx' | 'json'): string[] {
  const readme = readFileSync(path.join(sdkDir, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]!);
}

/** Runs tsc over `files` in `dir` with `compilerOptions`; resolves with its output ('' when clean). */
async function compile(dir: string, files: string[], compilerOptions: Record<string, unknown>, outDir?: string): Promise<string> {
  const config = path.join(dir, `tsconfig.${randomBytes(3).toString('hex')}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { ...compilerOptions, ...(outDir ? { outDir } : { noEmit: true }) }, files }));
  return run(process.execPath, [tsc, '-p', config], { cwd: dir }).then(
    () => '',
    (e: { stdout: string }) => e.stdout,
  );
}

describe('the SDK documents itself', () => {
  it("carries the procedures' docstrings into the published d.ts, where an editor's hover shows them", () => {
    const dts = readFileSync(path.join(consumer, 'node_modules/@guildhall/sdk/dist/index.d.ts'), 'utf8');
    expect(dts).toMatch(/\/\*\*\n\s+\* Creates a community \(no parent\)[\s\S]*?with `parentId` required for a group or a room[\s\S]*?\*\/\n\s+create: _trpc_server\.TRPCMutationProcedure/);
    expect(readFileSync(path.join(consumer, 'node_modules/@guildhall/sdk/dist/index.d.cts'), 'utf8')).toContain('Creates a community (no parent)');

    // What an editor does on hover: quick info from the language service, over the installed package.
    const file = path.join(consumer, 'hover.ts');
    const source = "import { createClient } from '@guildhall/sdk';\nconst client = createClient({ url: 'http://localhost:3000' });\nvoid client.scopes.create.mutate;\nvoid client.messages.send.mutate;\n";
    writeFileSync(file, source);
    const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.esnext.disposable.d.ts'], types: [] };
    const service = ts.createLanguageService({
      getCompilationSettings: () => options,
      getScriptFileNames: () => [file],
      getScriptVersion: () => '1',
      getScriptSnapshot: (name) => (ts.sys.fileExists(name) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(name)!) : undefined),
      getCurrentDirectory: () => consumer,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: ts.sys.fileExists,
      readFile: ts.sys.readFile,
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
    });
    const hover = (word: string) => ts.displayPartsToString(service.getQuickInfoAtPosition(file, source.indexOf(word) + 1)?.documentation ?? []);
    expect(hover('create.mutate')).toMatch(/^Creates a community \(no parent\)/);
    expect(hover('send.mutate')).toMatch(/nonce/);
  });

  it('compiles every ts block of its README under strict, with the settings the README states', async () => {
    const [settings] = readmeBlocks('json');
    const compilerOptions = (JSON.parse(settings!) as { compilerOptions: Record<string, unknown> }).compilerOptions;
    expect(compilerOptions).toMatchObject({ strict: true, skipLibCheck: false });
    const blocks = readmeBlocks('ts');
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const files = blocks.map((code, i) => {
      const name = `readme-${i}.ts`;
      writeFileSync(path.join(consumer, name), code);
      return name;
    });
    expect(await compile(consumer, files, compilerOptions)).toBe('');
    // What the README says of `lib`: DOM is needed; ESNext.Disposable only without skipLibCheck.
    const lib = compilerOptions['lib'] as string[];
    expect(await compile(consumer, files, { ...compilerOptions, lib: lib.filter((l) => l !== 'DOM') })).toMatch(/error TS/);
    expect(await compile(consumer, files, { ...compilerOptions, lib: lib.filter((l) => l !== 'ESNext.Disposable') })).toMatch(/error TS/);
    expect(await compile(consumer, files, { ...compilerOptions, lib: lib.filter((l) => l !== 'ESNext.Disposable'), skipLibCheck: true })).toBe('');
  }, 400_000);

  it('types errors: isGuildhallError narrows err.data (code, appCode, zodError), at compile time and against a live server', async () => {
    const source = `
import { createClient, isGuildhallError, errorCodeOf } from '@guildhall/sdk';

const client = createClient({ url: '${server.url}' });
const results: unknown[] = [];
try {
  await client.auth.signUp.mutate({ email: 'not an email', password: 'long enough', displayName: 'x' });
} catch (err) {
  // @ts-expect-error before narrowing, err is unknown
  void err.data;
  if (isGuildhallError(err)) {
    // @ts-expect-error the code is a union of tRPC codes, not any string
    if (err.data.code === 'NOT_A_CODE') throw err;
    // @ts-expect-error the domain code is a union too
    if (err.data.appCode === 'Nope') throw err;
    const issues: string[] | undefined = err.data.zodError?.fieldErrors['email'];
    results.push(err.data.code, err.data.appCode, issues?.length, err.data.httpStatus);
  }
}
await client.scopes.get.query({ scopeId: '00000000-0000-4000-8000-000000000000' }).catch((err: unknown) => results.push(errorCodeOf(err)));
await createClient({ url: 'http://127.0.0.1:9' }).health.query().catch((err: unknown) => results.push(isGuildhallError(err)));
console.log(JSON.stringify(results));
`;
    writeFileSync(path.join(consumer, 'errors.ts'), source);
    const options = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, lib: ['ES2022', 'DOM', 'ESNext.Disposable'], types: [], skipLibCheck: false };
    const built = path.join(consumer, 'errors-out');
    expect(await compile(consumer, ['errors.ts'], options, built)).toBe('');
    // Without the @ts-expect-error lines each of those is an error: the types are not any.
    writeFileSync(path.join(consumer, 'errors-bare.ts'), source.replace(/^\s*\/\/ @ts-expect-error.*\n/gm, ''));
    const bare = await compile(consumer, ['errors-bare.ts'], options);
    expect(bare.match(/error TS\d+/g)?.length).toBe(3);

    const out = await run(process.execPath, [path.join(built, 'errors.js')], { cwd: consumer });
    expect(JSON.parse(out.stdout.trim())).toEqual(['BAD_REQUEST', 'Invalid', 1, 400, 'UNAUTHORIZED', false]);
  }, 400_000);

  it('compiles its TanStack Query section (@trpc/tanstack-react-query) against the packed SDK', async () => {
    const react = path.join(work, 'react-consumer');
    mkdirSync(react, { recursive: true });
    writeFileSync(path.join(react, 'package.json'), JSON.stringify({ name: 'react-consumer', private: true, type: 'module' }));
    // The newest @trpc/tanstack-react-query names tRPC 11.22.1 as its peer; the SDK is on 11.25.2.
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--legacy-peer-deps', tarball, '@trpc/tanstack-react-query@11.22.1', '@tanstack/react-query@5.108.4', 'react@19.3.1', '@types/react@19.3.3'],
      { cwd: react, maxBuffer: 16 << 20 },
    );
    const [block] = readmeBlocks('tsx');
    expect(block).toContain("from '@trpc/tanstack-react-query'");
    writeFileSync(path.join(react, 'providers.tsx'), block!);
    const [settings] = readmeBlocks('json');
    const compilerOptions = (JSON.parse(settings!) as { compilerOptions: Record<string, unknown> }).compilerOptions;
    expect(await compile(react, ['providers.tsx'], { ...compilerOptions, jsx: 'react-jsx' })).toBe('');
    // A wrong input through the TanStack proxy is an error: the router's types come through.
    writeFileSync(path.join(react, 'wrong.tsx'), block!.replace('{ scopeId, limit: 50 }', '{ scopeId, limit: "50" }'));
    expect(await compile(react, ['wrong.tsx'], { ...compilerOptions, jsx: 'react-jsx' })).toMatch(/wrong\.tsx\(\d+,\d+\): error TS(2322|2769)/);
  }, 400_000);
});
