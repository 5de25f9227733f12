import { describe, expect, it } from 'vitest';
import { findBadText } from '../../src/guard/text.js';

describe('findBadText', () => {
  it('walks an input nested 100,000 deep (an 200 KB body) and names the full path of the NUL at its bottom', () => {
    const depth = 100_000;
    let input: unknown = 'bad\u0000';
    for (let i = 0; i < depth; i++) input = i % 2 ? [input] : { k: input };
    const issue = findBadText(input);
    expect(issue?.message).toBe('text must not contain NUL (U+0000)');
    expect(issue?.path.length).toBe(depth);
    expect(issue?.path.slice(0, 2)).toEqual([0, 'k']);
  });

  it('names paths through arrays, objects, Maps and Sets, and bad keys', () => {
    expect(findBadText({ a: [1, { b: 'x\u0000' }] })?.path).toEqual(['a', 1, 'b']);
    expect(findBadText({ a: new Map([['m', 'x\uD800']]) })?.path).toEqual(['a', 'm']);
    expect(findBadText({ a: new Set(['ok', 'x\u0000']) })?.path).toEqual(['a', 1]);
    expect(findBadText({ a: { ['k\u0000']: 1 } })).toEqual({ path: ['a'], message: 'a key: text must not contain NUL (U+0000)' });
    expect(findBadText({ a: ['fine'] })).toBeNull();
  });
});
