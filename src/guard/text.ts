/**
 * Text that PostgreSQL cannot store, found once for every input before any schema sees it.
 *
 * PostgreSQL's `text` refuses U+0000 (`invalid byte sequence for encoding "UTF8": 0x00`),
 * and a lone UTF-16 surrogate has no UTF-8 form at all (it would be stored as U+FFFD, so
 * the text read back differs from the text sent). Matrix and Discord refuse both in
 * message bodies; we refuse them in every string of every input, keys included.
 */

const NUL = '\u0000';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with one string, or null when it can be stored. */
export function badText(s: string): string | null {
  if (s.includes(NUL)) return 'text must not contain NUL (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'text must not contain a lone surrogate (invalid UTF-16)';
  return null;
}

/** Where in an input a bad string sits (`path`, as zod names it) and why. */
export interface BadTextIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Walks an input (plain objects, arrays, Maps and Sets, as superjson may produce) and
 * returns the first string or object key that cannot be stored, or null. Iterative, and
 * each object is visited once, so deep nesting or shared references (superjson's
 * referential equalities) cannot blow the stack or the time.
 */
export function findBadText(input: unknown): BadTextIssue | null {
  const seen = new Set<object>();
  // Each entry links to its parent's; the path is built only for the string that is bad.
  type Step = { value: unknown; key: string | number | null; parent: Step | null };
  const pathOf = (step: Step | null): (string | number)[] => {
    const path: (string | number)[] = [];
    for (let s = step; s && s.key !== null; s = s.parent) path.push(s.key);
    return path.reverse();
  };
  const stack: Step[] = [{ value: input, key: null, parent: null }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    const { value } = step;
    if (typeof value === 'string') {
      const message = badText(value);
      if (message) return { path: pathOf(step), message };
      continue;
    }
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: step });
    } else if (value instanceof Map) {
      let i = 0;
      for (const [k, v] of value) {
        stack.push({ value: k, key: i, parent: step }, { value: v, key: typeof k === 'string' ? k : i, parent: step });
        i++;
      }
    } else if (value instanceof Set) {
      let i = 0;
      for (const v of value) stack.push({ value: v, key: i++, parent: step });
    } else {
      for (const key of Object.keys(value).reverse()) {
        const message = badText(key);
        if (message) return { path: pathOf(step), message: `a key: ${message}` };
        stack.push({ value: (value as Record<string, unknown>)[key], key, parent: step });
      }
    }
  }
  return null;
}
