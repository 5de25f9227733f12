import { TRPCError } from '@trpc/server';
import superjson from 'superjson';

/** Said when superjson cannot apply an input's `meta` to its `json`. */
const META_UNFIT =
  'the input\'s superjson `meta` does not fit its `json` (or the input is nested too deeply): send what superjson.serialize makes, as @trpc/client does';
/** Said when an input is not a superjson payload at all (a bare string, number, array, null). */
const NOT_SUPERJSON =
  'the input is not superjson: send `{ "json": <input> }` (with `"meta"` for Dates), as @trpc/client does; `{}` for no input';

/**
 * How call inputs are read: superjson, as every tRPC client of Guildhall sends them
 * (`{ "json": <input> }`, plus `meta` when the input holds a Date, a BigInt, a Map…).
 * An input without `meta` is plain JSON, freshly parsed for this call: it is taken as it
 * is, without superjson's deep copy of it (most calls, `messages.send` among them).
 * A payload that is not an object (`"str"`, `5`, `[1]`, `null`, which superjson reads as
 * no input, so the client was told a field "received undefined") is BAD_REQUEST saying how
 * to wrap it. Anything else goes to superjson unchanged, with its own errors. Outputs:
 * src/output-transformer.ts.
 */
export const inputTransformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize(payload: unknown): unknown {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new TRPCError({ code: 'BAD_REQUEST', message: NOT_SUPERJSON });
    const keys = Object.keys(payload);
    if (keys.length === 1 && keys[0] === 'json') return (payload as { json: unknown }).json;
    try {
      return superjson.deserialize(payload as Parameters<typeof superjson.deserialize>[0]);
    } catch (err) {
      // superjson walks `meta.values` by recursion: a value that is not its tree of
      // annotations (a string, an unknown custom type) overflows the stack or is refused.
      if (err instanceof RangeError) throw new TRPCError({ code: 'BAD_REQUEST', message: META_UNFIT, cause: err });
      throw err;
    }
  },
};
