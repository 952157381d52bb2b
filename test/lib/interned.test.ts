// The interned-object contract: interned objects never change, and only they are reported interned.
import { describe, expect, it } from 'vitest';
import { intern, internTree, isInterned } from '../../src/lib/interned.js';

describe('interned', () => {
  it('interns an object shallowly, a tree entirely, and reads the mark back', () => {
    const shallow = intern({ a: { b: 1 } });
    expect(isInterned(shallow)).toBe(true);
    expect(isInterned(shallow.a)).toBe(false);
    const tree = internTree({ a: { b: [1, { c: 2 }] } });
    expect(isInterned(tree.a.b[1])).toBe(true);
    expect(() => {
      (tree.a as { b: unknown }).b = 0;
    }).toThrow(TypeError);
  });

  it('reports nothing else as interned', () => {
    for (const value of [{}, [], null, undefined, 'text', 1]) expect(isInterned(value)).toBe(false);
  });
});
