import fc from 'fast-check';

/**
 * fast-check arbitraries from zod 4 schemas, read through `schema._zod.def` (the kinds our
 * input schemas use: objects, strings with formats, numbers, enums, unions, records …;
 * anything else gets `fc.anything()`). Every leaf is sometimes replaced by a hostile value,
 * so a generated input is mostly well-formed with the odd poisoned field.
 */

/** Strings no field should choke on. */
export const HOSTILE_STRINGS: string[] = [
  'a\u0000b',
  '\u0000',
  '\uD800',
  'x\uDFFFy',
  '',
  ' ',
  '\u202E\u200B',
  "'; drop table users; --",
  '9223372036854775807',
  '-1',
  'NaN',
  '__proto__',
  '../../etc/passwd',
  '%00',
  'x'.repeat(70_000),
];

/** Numbers at and past every edge (superjson carries NaN, ±Infinity and -0). */
export const HOSTILE_NUMBERS: number[] = [NaN, Infinity, -Infinity, -0, -1, 0, 0.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 53) - 2, 1e308, -1e308, Number.MIN_VALUE];

const nested = (depth: number) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

/** Whole inputs of the wrong shape: wrong types, prototype keys, deep nesting, a 10^6-character string. */
export function hostileInputs(): unknown[] {
  return [
    undefined,
    null,
    true,
    0,
    NaN,
    -Infinity,
    'a\u0000b',
    'x'.repeat(1_000_000),
    [],
    {},
    2n ** 64n,
    new Date(NaN),
    new Map([['__proto__', 1]]),
    new Set(['\uD800']),
    JSON.parse('{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":1}}}'),
    nested(2_000),
  ];
}

interface Def {
  type: string;
  [k: string]: unknown;
}
type Schema = { _zod: { def: Def; bag?: Record<string, unknown> } };

const defOf = (s: unknown) => (s as Schema)._zod.def;
const bagOf = (s: unknown) => (s as Schema)._zod.bag ?? {};

/**
 * Inputs for `schema`: well-formed ones (`uuids` and `emails` are fixture values worth
 * hitting, mixed with random ones), most of them with exactly one leaf replaced by a
 * hostile value of its own type (a string by NUL, a lone surrogate, 70,000 characters …;
 * a number by NaN, ±Infinity, 2^53+2 …) or of another type, so the other fields pass the
 * schema and the poisoned one reaches the service.
 */
export function arbitraryOf(schema: unknown, opts: { uuids: string[]; emails: string[] }): fc.Arbitrary<unknown> {
  const clean = plain(schema, opts, 0);
  const poisoned = fc.tuple(clean, fc.nat(), fc.nat(), fc.nat({ max: 9 })).map(([value, which, pick, kind]) => {
    const leaves: { parent: Record<string | number, unknown>; key: string | number; value: unknown }[] = [];
    collectLeaves(value, leaves);
    if (leaves.length === 0) return value;
    const leaf = leaves[which % leaves.length]!;
    const pool: unknown[] = kind < 2 ? HOSTILE_ODDS : typeof leaf.value === 'string' ? HOSTILE_STRINGS : typeof leaf.value === 'number' ? HOSTILE_NUMBERS : HOSTILE_ODDS;
    leaf.parent[leaf.key] = pool[pick % pool.length];
    return value;
  });
  return fc.oneof({ weight: 1, arbitrary: clean }, { weight: 3, arbitrary: poisoned });
}

const HOSTILE_ODDS: unknown[] = [null, true, {}, [], 2n ** 63n, -(2n ** 63n), new Date(NaN), 'a\u0000b', NaN];

function collectLeaves(value: unknown, out: { parent: Record<string | number, unknown>; key: string | number; value: unknown }[], depth = 0) {
  if (depth > 8 || value === null || typeof value !== 'object' || value instanceof Date) return;
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !(v instanceof Date) && Object.keys(v).length > 0) collectLeaves(v, out, depth + 1);
    else out.push({ parent: value as Record<string | number, unknown>, key: Array.isArray(value) ? Number(k) : k, value: v });
  }
}

function plain(schema: unknown, opts: { uuids: string[]; emails: string[] }, depth: number): fc.Arbitrary<unknown> {
  if (!schema || typeof schema !== 'object' || !('_zod' in schema) || depth > 8) return fc.anything();
  const def = defOf(schema);
  const bag = bagOf(schema);
  const sub = (s: unknown) => plain(s, opts, depth + 1);
  switch (def.type) {
    case 'string': {
      if (bag.format === 'uuid' || def.format === 'uuid') return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...opts.uuids) }, { weight: 1, arbitrary: fc.uuid({ version: 4 }) });
      if (bag.format === 'email' || def.format === 'email') return fc.oneof(fc.constantFrom(...opts.emails), fc.nat().map((n) => `someone-${n}@example.com`));
      const maxLength = Math.min(Number(bag.maxLength ?? 40), 300);
      const minLength = Math.min(Number(bag.minLength ?? 0), maxLength);
      return fc.oneof(fc.string({ minLength, maxLength }), fc.string({ minLength, maxLength, unit: 'binary' }), fc.stringMatching(/^\d{1,20}$/));
    }
    case 'number': {
      const min = Number.isFinite(bag.minimum) ? Number(bag.minimum) : -1e9;
      const max = Number.isFinite(bag.maximum) ? Number(bag.maximum) : 1e9;
      const int = String(bag.format ?? '').includes('int');
      return int ? fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) }) : fc.double({ min, max, noNaN: true });
    }
    case 'bigint':
      return fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n });
    case 'boolean':
      return fc.boolean();
    case 'date':
      return fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01') });
    case 'null':
      return fc.constant(null);
    case 'undefined':
    case 'void':
      return fc.constant(undefined);
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]));
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries as Record<string, unknown>));
    case 'optional':
    case 'default':
    case 'prefault':
      return fc.option(sub(def.innerType), { nil: undefined, freq: 3 });
    case 'nullable':
      return fc.option(sub(def.innerType), { nil: null, freq: 3 });
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return plain(def.innerType, opts, depth);
    case 'pipe':
      return plain(def.in, opts, depth);
    case 'lazy':
      return plain((def.getter as () => unknown)(), opts, depth + 1);
    case 'union':
      return fc.oneof(...(def.options as unknown[]).map(sub));
    case 'array':
      return fc.array(sub(def.element), { maxLength: Math.min(Number(bagOf(schema).maximum ?? 4), 4) });
    case 'tuple':
      return fc.tuple(...(def.items as unknown[]).map(sub));
    case 'record':
      return fc.dictionary(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'a\u0000')), sub(def.valueType), { maxKeys: 4 });
    case 'object': {
      const shape = def.shape as Record<string, unknown>;
      const model = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, sub(v)]));
      const requiredKeys = Object.entries(shape)
        .filter(([, v]) => !['optional', 'default', 'prefault'].includes(defOf(v).type))
        .map(([k]) => k);
      return fc.record(model, { requiredKeys });
    }
    default:
      return fc.anything();
  }
}
