import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryHandler } from '../../src/http/trpc-queries.js';
import { inputTransformer } from '../../src/input-transformer.js';
import { outputTransformer } from '../../src/output-transformer.js';

/**
 * src/http/trpc-queries.ts answers queries without tRPC's Fetch adapter. These tests send
 * the same requests, over HTTP, to tRPC's own standalone handler and to ours (in front of
 * a second tRPC handler, as in src/server.ts) and expect the same status, headers and
 * bytes, for answers, errors, batches and everything ours hands over.
 */
const t = initTRPC.context<{ who: string }>().create({
  transformer: { input: inputTransformer, output: outputTransformer },
  errorFormatter: ({ shape, error }) => ({ ...shape, data: { ...shape.data, stack: undefined, formatted: error.code } }),
});
const appRouter = t.router({
  hello: t.procedure.input(z.object({ name: z.string().min(1) })).output(z.object({ greeting: z.string(), at: z.date() })).query(({ input, ctx }) => ({ greeting: `hi ${input.name} from ${ctx.who}`, at: new Date(0) })),
  plain: t.procedure.query(() => ({ n: 1, list: [1, 2], none: null })),
  refused: t.procedure.query(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'you may not' });
  }),
  broken: t.procedure.query(() => {
    throw new Error('a bug');
  }),
  badOutput: t.procedure.output(z.object({ n: z.number() })).query(() => ({ n: 'x' }) as unknown as { n: number }),
  unwritable: t.procedure.query(() => ({
    get broken(): string {
      throw new Error('this value cannot be read');
    },
  })),
  nested: t.router({ deep: t.procedure.input(z.number()).query(({ input }) => input * 2) }),
  change: t.procedure.input(z.object({ x: z.number() })).mutation(({ input }) => input.x),
  ticks: t.procedure.subscription(async function* () {
    yield 1;
  }),
});

let ref: string;
let fast: string;
const errors: { path: string | undefined; code: string }[] = [];
/** URLs ours handed to tRPC's handler. */
const handedOver: string[] = [];
const servers: http.Server[] = [];

async function listen(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const opts = { router: appRouter, basePath: '/trpc/', maxBatchSize: 3, createContext: () => ({ who: 'ctx' }) };
  ref = await listen(createHTTPHandler(opts));
  const trpcHandler = createHTTPHandler(opts);
  const fallback = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handedOver.push(req.url!);
    trpcHandler(req, res);
  };
  fast = await listen(
    queryHandler({ ...opts, onError: ({ error, path }) => errors.push({ path, code: error.code }), fallback }),
  );
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

async function answer(base: string, path: string, init?: RequestInit) {
  const r = await fetch(base + path, init);
  return { status: r.status, type: r.headers.get('content-type'), vary: r.headers.get('vary'), allow: r.headers.get('allow'), body: await r.text() };
}

const enc = (v: unknown) => encodeURIComponent(JSON.stringify(v));

describe('queries answered without the Fetch adapter', () => {
  const cases: [string, string, RequestInit?][] = [
    ['a query', `/trpc/hello?input=${enc({ json: { name: 'ann' } })}`],
    ['a query whose input is not superjson', `/trpc/hello?input=${enc({ name: 'ann' })}`],
    ['a query without input', '/trpc/plain'],
    ['a nested path', `/trpc/nested.deep?input=${enc(21)}`],
    ['a batch of two', `/trpc/hello,plain?batch=1&input=${enc({ 0: { json: { name: 'b' } } })}`],
    ['a batch whose input is not superjson', `/trpc/hello?batch=1&input=${enc({ 0: { name: 'p' } })}`],
    ['a batch with an error (207)', `/trpc/plain,refused?batch=1&input=${enc({})}`],
    ['a batch of errors of one status', `/trpc/refused,refused?batch=1`],
    ['a refusal', '/trpc/refused'],
    ['a bug (500, message kept by this formatter)', '/trpc/broken'],
    ['an output that fails its check', '/trpc/badOutput'],
    ['input that fails its check', `/trpc/hello?input=${enc({ name: '' })}`],
    ['input that is not JSON', '/trpc/hello?input=%7Bnope'],
    ['a batch whose input is not an object', `/trpc/hello?batch=1&input=${enc([1])}`],
    ['a batch whose input is a string', `/trpc/hello,plain?batch=1&input=${enc('x')}`],
    ['superjson meta on input', `/trpc/hello?input=${enc({ json: { name: 'c' }, meta: { values: { name: ['undefined'] } } })}`],
    ['an answer that cannot be written (its transform throws)', '/trpc/unwritable'],
    ['an answer that cannot be written, in a batch', '/trpc/plain,unwritable?batch=1'],
    ['an unknown path', '/trpc/nothing'],
    ['an own property of Object.prototype as the path', '/trpc/constructor'],
    ['a __proto__ path', '/trpc/__proto__'],
    ['a mutation over GET', `/trpc/change?input=${enc({ x: 1 })}`],
    ['a mutation in a query batch', `/trpc/plain,change?batch=1`],
    ['a subscription over GET (SSE, first bytes only)', '/trpc/ticks'],
    ['a batch over the limit', '/trpc/plain,plain,plain,plain?batch=1'],
    ['an escaped path', '/trpc/%68ello?input=' + enc({ name: 'd' })],
    ['a path with a slash', '/trpc/nested/deep?input=' + enc(1)],
    ['input that is not JSON, in a batch of two', '/trpc/hello,plain?batch=1&input=%7Bnope'],
    ['a GET with a form content type', '/trpc/plain', { headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
    ['a GET with a JSON content type', '/trpc/plain', { headers: { 'content-type': 'Application/JSON; charset=utf-8' } }],
    ['a streaming call', `/trpc/plain?batch=1`, { headers: { 'trpc-accept': 'application/jsonl' } }],
    ['a streaming call asked for by Accept', `/trpc/plain?batch=1`, { headers: { accept: 'text/html, application/jsonl' } }],
    ['an unbatched call with Accept: application/jsonl', '/trpc/plain', { headers: { accept: 'application/jsonl' } }],
    ['an ordinary Accept header', '/trpc/plain', { headers: { accept: 'application/json, text/plain, */*' } }],
    ['a mutation over POST', '/trpc/change', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 4 }) }],
    ['a query over POST', '/trpc/plain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
  ];
  for (const [what, path, init] of cases) {
    it(`${what}: the same status, headers and body as tRPC's handler`, async () => {
      if (path === '/trpc/ticks') {
        // An endless SSE stream: compare the status and headers, then stop reading.
        const [a, b] = await Promise.all([fetch(ref + path), fetch(fast + path)]);
        expect([b.status, b.headers.get('content-type')]).toEqual([a.status, a.headers.get('content-type')]);
        await Promise.all([a.body?.cancel(), b.body?.cancel()]);
        return;
      }
      const [a, b] = [await answer(ref, path, init), await answer(fast, path, init)];
      expect(b).toEqual(a);
    });
  }

  it('reports each failed call once to onError, with its path and code', async () => {
    errors.length = 0;
    await fetch(`${fast}/trpc/plain,refused,broken?batch=1`);
    expect(errors).toEqual([
      { path: 'refused', code: 'FORBIDDEN' },
      { path: 'broken', code: 'INTERNAL_SERVER_ERROR' },
    ]);
  });

  it('answers queries itself and hands over only what it does not take', async () => {
    handedOver.length = 0;
    await fetch(`${fast}/trpc/hello,plain?batch=1&input=${enc({ 0: { name: 'x' } })}`);
    await fetch(`${fast}/trpc/hello?input=%7Bnope`);
    expect(handedOver).toEqual([]);
    await fetch(`${fast}/trpc/change?input=${enc({ x: 1 })}`);
    await fetch(`${fast}/trpc/%68ello`);
    expect(handedOver).toEqual([`/trpc/change?input=${enc({ x: 1 })}`, '/trpc/%68ello']);
  });

  it('answers a HEAD as tRPC does', async () => {
    const [a, b] = [await answer(ref, '/trpc/plain', { method: 'HEAD' }), await answer(fast, '/trpc/plain', { method: 'HEAD' })];
    expect(b).toEqual(a);
  });
});
