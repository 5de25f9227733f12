import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import createClient from 'openapi-fetch';
import { Validator } from '@seriousme/openapi-schema-validator';
import { createTestDatabase } from '../helpers/db.js';
import { startServer, testPrefix } from '../helpers/server.js';
import type { GuildhallServer } from '../../src/server.js';
import { appRouter } from '../../src/router.js';
import { RestRoutes } from '../../src/rest/routes.js';

const run = promisify(execFile);
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let server: GuildhallServer;
let doc: any;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({ databaseUrl: db.url, redisPrefix: testPrefix() });
  const res = await fetch(`${server.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => {
  await server?.close(100);
  await db?.drop();
});

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has an operation for every query and mutation, and none for subscriptions', () => {
    const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>);
    const routed = new RestRoutes(appRouter).all();
    for (const [name, p] of procedures) {
      const route = routed.find((r) => r.procedurePath === name);
      if (p._def.type === 'subscription') expect(route, name).toBeUndefined();
      else expect(route, `${name} has REST meta`).toBeDefined();
    }
    for (const r of routed) expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    expect(doc.paths['/scopes/{scopeId}/messages'].get.operationId).toBe('messages-list');
    expect(doc.paths['/scopes/{scopeId}/messages'].post.operationId).toBe('messages-send');
    expect(doc.paths['/scopes/{scopeId}/messages/{messageId}'].patch.operationId).toBe('messages-edit');
    expect(doc.paths['/scopes/{scopeId}/messages/{messageId}'].delete.operationId).toBe('messages-delete');
  });

  it('describes instants as date-time strings and bitfields as decimal strings', () => {
    const send = doc.paths['/scopes/{scopeId}/messages'].post.responses['200'].content['application/json'].schema;
    const message = send.$ref ? doc.components.schemas[send.$ref.split('/').pop()] : send;
    expect(message.properties.createdAt).toMatchObject({ type: 'string', format: 'date-time' });
    const role = doc.paths['/scopes/{scopeId}/roles'].post;
    expect(role.responses['200'].content['application/json'].schema.properties.permissions).toMatchObject({ type: 'string', pattern: '^-?[0-9]+$' });
    expect(role.requestBody.content['application/json'].schema.properties.permissions).toMatchObject({ type: 'string' });
    expect(doc.paths['/scopes/{scopeId}/roles'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/auth/sign-in'].post.security).toBeUndefined();
  });
});

describe('/docs', () => {
  it('serves the API reference from local files, with no CDN', async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/swagger-ui-bundle.js');
    expect(html).not.toMatch(/(src|href)="https?:/);
    const bundle = await fetch(`${server.url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${server.url}/docs/init.js`)).status).toBe(200);
    expect((await fetch(`${server.url}/docs/swagger-ui.css`)).status).toBe(200);
    expect((await fetch(`${server.url}/docs/../package.json`)).status).toBe(404);
  });
});

describe('a typed client generated from /openapi.json (openapi-typescript + openapi-fetch)', () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  let dir: string;
  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('typechecks calls against the generated paths and refuses a wrong one', async () => {
    const types = astToString(await openapiTS(structuredClone(doc)));
    // Inside the project, so the generated file resolves openapi-fetch from node_modules.
    dir = await fs.mkdtemp(path.join(here, '.generated-'));
    await fs.writeFile(path.join(dir, 'api.d.ts'), types);
    await fs.writeFile(
      path.join(dir, 'use.ts'),
      `import createClient from 'openapi-fetch';
import type { paths } from './api.js';
export async function use(baseUrl: string, token: string, scopeId: string) {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } });
  const sent = await api.POST('/scopes/{scopeId}/messages', { params: { path: { scopeId } }, body: { body: 'typed', nonce: 'n1' } });
  const seq: number | undefined = sent.data?.seq;
  const createdAt: string | undefined = sent.data?.createdAt;
  const page = await api.GET('/scopes/{scopeId}/messages', { params: { path: { scopeId }, query: { limit: 10 } } });
  const bodies: string[] | undefined = page.data?.items.map((m) => m.body);
  const problem: string | undefined = sent.error?.message;
  // @ts-expect-error a message body is a string
  await api.POST('/scopes/{scopeId}/messages', { params: { path: { scopeId } }, body: { body: 42 } });
  // @ts-expect-error there is no such path
  await api.GET('/scopes/{scopeId}/nothing', { params: { path: { scopeId } } });
  return { seq, createdAt, bodies, problem };
}
`,
    );
    await fs.writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, types: [], lib: ['ES2023', 'DOM'] },
        files: ['use.ts'],
      }),
    );
    // tsc in its own process, as a consumer runs it (and so the server in this process keeps answering).
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', dir]).then(
      () => ({ code: 0, out: '' }),
      (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 60_000);

  it('calls the server with the generated client', async () => {
    const anon = createClient<any>({ baseUrl: `${server.url}/api` });
    const signUp = await anon.POST('/auth/sign-up', { body: { email: `typed-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: 'typed' } });
    expect(signUp.response.status).toBe(200);
    const api = createClient<any>({ baseUrl: `${server.url}/api`, headers: { authorization: `Bearer ${signUp.data.token}` } });
    const community = await api.POST('/scopes', { body: { kind: 'community', name: 'Typed' } });
    const sent = await api.POST('/scopes/{scopeId}/messages', { params: { path: { scopeId: community.data.id } }, body: { body: 'typed' } });
    expect(sent.data).toMatchObject({ body: 'typed', seq: expect.any(Number) });
    const page = await api.GET('/scopes/{scopeId}/messages', { params: { path: { scopeId: community.data.id }, query: { limit: 10 } } });
    expect(page.data.items.map((m: { body: string }) => m.body)).toEqual(['typed']);
  });
});
