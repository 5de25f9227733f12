import type { z } from 'zod';

/**
 * Plain JSON at the REST edge. The procedures' schemas carry `Date` and `bigint` (exact
 * types for the tRPC SDK, which speaks superjson); REST carries them as strings: an
 * instant as an RFC 3339 / ISO 8601 string, a permissions bitfield as a decimal string
 * (as Discord's API does, since a JSON number loses bits past 2^53).
 */

type AnySchema = z.core.$ZodType;
type Def = { type: string; innerType?: AnySchema; in?: AnySchema; shape?: Record<string, AnySchema>; element?: AnySchema; getter?: () => AnySchema };

const defOf = (schema: AnySchema) => schema._zod.def as unknown as Def;
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Turns a REST input into what the input schema parses, guided by the schema and never
 * mutating it: ISO strings become `Date` where the schema wants a date, decimal strings
 * (or safe integers) become `bigint` where it wants a bigint; with `fromQuery` (query
 * string values are strings) digit strings become numbers, `true`/`false` booleans, and a
 * lone value where an array is wanted a one-element array. Anything else is left as it is,
 * so the schema rejects it with its own message.
 */
export function restInput(schema: AnySchema, value: unknown, fromQuery = false): unknown {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return value === undefined || value === null ? value : restInput(def.innerType!, value, fromQuery);
    case 'pipe':
      return restInput(def.in!, value, fromQuery);
    case 'lazy':
      return restInput(def.getter!(), value, fromQuery);
    case 'object': {
      if (!isPlainObject(value)) return value;
      const out: Record<string, unknown> = { ...value };
      for (const [key, field] of Object.entries(def.shape!)) if (key in value) out[key] = restInput(field, value[key], fromQuery);
      return out;
    }
    case 'array': {
      const items = fromQuery && !Array.isArray(value) ? [value] : value;
      return Array.isArray(items) ? items.map((v) => restInput(def.element!, v, fromQuery)) : items;
    }
    case 'date':
      if (typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value);
      return value;
    case 'bigint':
      if (typeof value === 'string' && /^-?[0-9]{1,40}$/.test(value)) return BigInt(value);
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      return value;
    case 'number':
      if (fromQuery && typeof value === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(value)) return Number(value);
      return value;
    case 'boolean':
      if (fromQuery && (value === 'true' || value === 'false')) return value === 'true';
      return value;
    default:
      return value;
  }
}

/** A date (`2026-03-08`) or date-time with an offset or Z; what `Date` parses the same everywhere. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** JSON text of a procedure's output for REST: dates as ISO strings (their toJSON), bigints as decimal strings. */
export function restJson(data: unknown): string {
  return JSON.stringify(data ?? null, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
