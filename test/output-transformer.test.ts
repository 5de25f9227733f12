import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import superjson from 'superjson';
import type { AnyProcedure } from '@trpc/server';
import { outputTransformer, serializePlain } from '../src/output-transformer.js';
import { appRouter } from '../src/router.js';
import { arbitraryOf } from './helpers/zod-arbitrary.js';

/*
 * The output transformer must write exactly what superjson writes: the bytes of
 * JSON.stringify(serialize(v)) (what every transport sends), the same error when
 * superjson refuses a value, and a payload superjson reads back to the same value.
 */

/** The wire text of `serialize`, or the error it threw. */
function wire(serialize: (v: unknown) => unknown, v: unknown): string {
  try {
    return JSON.stringify(serialize(v));
  } catch (err) {
    return `threw ${String(err)}`;
  }
}

function expectSame(v: unknown) {
  expect(wire((x) => outputTransformer.serialize(x), v)).toBe(wire((x) => superjson.serialize(x), v));
}

const uuid = '0b8e5f3c-3a0e-4f5e-9a51-6d1b7c1f2a10';

/** A history page as `messages.list` returns it. */
function page(n: number) {
  const items = Array.from({ length: n }, (_, i) => ({
    id: uuid,
    scopeId: uuid,
    seq: 1000 - i,
    authorId: uuid,
    body: `message ${i}`,
    nonce: i % 3 === 0 ? `n-${i}` : null,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
    replyToId: null,
    threadRootId: null,
    threadReplyCount: i % 7,
    editedAt: i % 5 === 0 ? new Date(Date.UTC(2026, 0, 2)) : null,
    deletedAt: null,
    mentions: { userIds: i % 4 === 0 ? [uuid] : [], roleIds: [], everyone: i % 9 === 0 },
    reactions: i % 2 === 0 ? [{ emoji: '👍', count: 1, me: false, userIds: [uuid] }] : [],
    attachments: [],
  }));
  return { items, nextBeforeSeq: 950, nextAfterSeq: null };
}

describe('output transformer', () => {
  it('writes a history page as superjson does, without falling back to it', () => {
    const p = page(50);
    expectSame(p);
    const fast = serializePlain(p);
    expect(typeof fast).toBe('object');
    expect((fast as { json: unknown }).json).toBe(p);
    const back = outputTransformer.deserialize(JSON.parse(JSON.stringify(outputTransformer.serialize(p))));
    expect(back).toEqual(p);
  });

  it('matches superjson on plain JSON, Dates and what it leaves to superjson', () => {
    const shared = { a: 1 };
    const sharedDate = new Date(5);
    const cyclic: Record<string, unknown> = { x: 1 };
    cyclic.self = cyclic;
    const extraKey = Object.assign([1, 2], { extra: new Date(0) });
    const holes = [1, , new Date(0)]; // eslint-disable-line no-sparse-arrays
    class Thing {
      a = 1;
    }
    class SubDate extends Date {}
    const withToJSONDate = Object.assign(new Date(0), { toJSON: () => 'x' });
    const symbolTagged = { [Symbol.toStringTag]: 'Symbol', a: 1 };
    let deep: unknown = new Date(0);
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const cases: unknown[] = [
      null,
      undefined,
      0,
      -0,
      1.5,
      NaN,
      Infinity,
      -Infinity,
      'text',
      '',
      true,
      false,
      10n,
      Symbol('s'),
      () => 1,
      new Date(0),
      new Date(NaN),
      [],
      {},
      Object.create(null),
      Object.assign(Object.create(null), { d: new Date(1) }),
      [new Date(1), 'x', { a: new Date(2) }, new Date(3), [new Date(4)]],
      { '1': { a: new Date(1) }, '2': new Date(2), b: new Date(3), '01': new Date(4), '4294967295': new Date(5), '4294967294': new Date(6) },
      { x: { '1': { a: new Date(1) }, '2': new Date(2), b: new Date(3), '01': new Date(4) } },
      { x: [{ a: new Date(1) }, new Date(2), [new Date(3)], new Date(4)] },
      { 'a.b': new Date(1), 'c\\d': { 'e.f\\': new Date(2) }, '': new Date(3), '.': [new Date(4)] },
      { a: undefined },
      { a: [undefined] },
      { n: NaN, d: new Date(0) },
      { z: -0 },
      { big: 2n ** 70n },
      { m: new Map([[1, new Date(0)]]) },
      { s: new Set([1]) },
      { r: /x/g },
      { e: new Error('boom') },
      { u: new URL('https://example.com/') },
      { t: new Uint8Array([1, 2]) },
      { thing: new Thing() },
      { sub: new SubDate(0) },
      { withToJSONDate },
      { symbolTagged },
      { x: shared, y: shared },
      { x: [shared], y: { z: shared } },
      { x: sharedDate, y: sharedDate },
      cyclic,
      extraKey,
      holes,
      JSON.parse('{"__proto__": {"a": 1}}'),
      { constructor: 1 },
      { prototype: new Date(0) },
      { fn: () => 1 },
      { toJSON: 'not a function', d: new Date(0) },
      deep,
      page(3),
    ];
    for (const c of cases) expectSame(c);
  });

  it('matches superjson on random trees of JSON values and Dates', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) }),
      fc.constantFrom(undefined, NaN, -0, 1n, new Date(NaN)),
    );
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('0', '1', '10', '01', 'a.b', 'a\\b', '.', '\\', '4294967295'));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('tree'), { maxLength: 5 }),
      object: fc.dictionary(key, tie('tree'), { maxKeys: 5 }),
    }));
    fc.assert(fc.property(tree, (v) => void expectSame(v)), { numRuns: 2000 });
  });

  it('matches superjson on values of every output schema of the router', () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;
    let schemas = 0;
    for (const [path, proc] of Object.entries(procedures)) {
      const output = (proc._def as { output?: unknown }).output;
      if (!output) continue;
      schemas++;
      fc.assert(
        fc.property(arbitraryOf(output, { uuids: [uuid], emails: ['a@example.com'] }), (v) => void expectSame(v)),
        { numRuns: 40, seed: 7, examples: [] },
      );
      expect(path).toBeTruthy();
    }
    expect(schemas).toBeGreaterThan(20);
  });
});
