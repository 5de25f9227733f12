/**
 * Returns `fn` unchanged. For closures made per connection or per subscription: under tsx
 * (what `npm start` runs; esbuild's keepNames), a function written as the value of an
 * object property or a variable is wrapped in `__name(fn, "name")`, an
 * Object.defineProperty that gives each such closure its own property array (about
 * 250 bytes more per closure). A function passed as an argument has no inferred name and
 * is left alone, so `{ read: unnamed(async () => …) }` costs the closure only.
 */
export const unnamed = <F extends (...args: never[]) => unknown>(fn: F): F => fn;
