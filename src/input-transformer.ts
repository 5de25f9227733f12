import superjson from 'superjson';

/**
 * How call inputs are read: superjson, as every tRPC client of Guildhall sends them
 * (`{ "json": <input> }`, plus `meta` when the input holds a Date, a BigInt, a Map…).
 * An input without `meta` is plain JSON, freshly parsed for this call: it is taken as it
 * is, without superjson's deep copy of it (most calls, `messages.send` among them).
 * Anything else goes to superjson unchanged, with its own errors. Outputs: src/output-transformer.ts.
 */
export const inputTransformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize(payload: unknown): unknown {
    if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
      const keys = Object.keys(payload);
      if (keys.length === 1 && keys[0] === 'json') return (payload as { json: unknown }).json;
    }
    return superjson.deserialize(payload as Parameters<typeof superjson.deserialize>[0]);
  },
};
