// Authorization header parsing (RFC 6750 §2.1): the scheme in any case, one space, then the token.
import { describe, expect, it } from 'vitest';
import { bearerTokenOf } from '../../src/transport/bearer.js';

describe('bearerTokenOf', () => {
  it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])('accepts the scheme written %s', (scheme) => {
    expect(bearerTokenOf(`${scheme} abc.def.ghi`)).toBe('abc.def.ghi');
  });

  it.each([
    ['absent', undefined],
    ['too short', 'Bearer'],
    ['nothing after the space', 'Bearer  '],
    ['another scheme', 'Basic abc.def.ghi'],
    ['a near miss', 'Beare abc.def.ghi'],
    ['a letter changed', 'Bearar abc.def.ghi'],
    ['no space', 'Bearerabc.def.ghi'],
    ['a tab instead of the space', 'Bearer\tabc.def.ghi'],
    ['punctuation that case-folding would not equate', 'Bea\u0012er abc.def.ghi'],
    ['a non-ASCII look-alike', 'Ｂearer abc.def.ghi'],
  ])('refuses %s', (_what, header) => {
    expect(bearerTokenOf(header)).toBeUndefined();
  });
});
