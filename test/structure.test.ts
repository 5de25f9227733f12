import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * Module structure: the events, scopes and permissions domains import one way (no
 * cycle through them, value or type import alike) and wire no dependency after
 * construction (no `useX(...)` setter hiding a cycle).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Relative imports and re-exports of every file under src/, as src-relative paths. */
function importGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sources(src)) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)].map((m) =>
      relative(src, normalize(join(dirname(f), m[1]!.replace(/\.js$/, '.ts')))),
    );
    g.set(relative(src, f), deps);
  }
  return g;
}

/** Every cycle found by a depth-first walk, as `a -> b -> a`. */
function cycles(g: Map<string, string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const out: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (!g.has(d)) continue;
      if (state.get(d) === 1) out.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return out;
}

const DOMAINS = ['events/', 'scopes/', 'permissions/'];

describe('module structure', () => {
  it('the cycle finder sees a cycle when there is one', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']]]))).toEqual(['a.ts -> b.ts -> a.ts']);
  });

  it('no import cycle runs through the events, scopes or permissions domains', () => {
    const found = cycles(importGraph()).filter((c) => DOMAINS.some((d) => c.includes(d)));
    expect(found).toEqual([]);
  });

  it('their services take every dependency in the constructor (no setter injection)', () => {
    const setters = sources(src)
      .filter((f) => DOMAINS.some((d) => relative(src, f).startsWith(d)))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^\s+use[A-Z]\w*\(/gm)].map((m) => `${relative(src, f)}: ${m[0].trim()}`));
    expect(setters).toEqual([]);
  });
});
