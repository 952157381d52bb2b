// The rewrite that moves a tenant into its own package for packing: what it changes, and what it refuses.
import { describe, expect, it } from 'vitest';
import { packedEntrypoint, rewriteForPack } from '../../src/policy/pack-rewrite.js';

const rewrite = (source: string) => rewriteForPack(source, 'u7');

describe('rewriteForPack', () => {
  it('renames the package and references to it, line for line', () => {
    const source = [
      'package mandate.tenant',
      '',
      'import data.mandate.tenant.helpers',
      '',
      '# data.whole in a comment is left alone',
      'decision := {"allow": data.mandate.tenant.ok, "note": "data is fine in a string"}',
      'ok if input.data.x == data.limits["max"]',
    ].join('\n');
    const result = rewrite(source);
    expect(result).toEqual({
      ok: true,
      source: [
        'package mandate.packed.u7',
        '',
        'import data.mandate.packed.u7.helpers',
        '',
        '# data.whole in a comment is left alone',
        'decision := {"allow": data.mandate.packed.u7.ok, "note": "data is fine in a string"}',
        'ok if input.data.x == data.limits["max"]',
      ].join('\n'),
    });
    expect(packedEntrypoint('u7')).toBe('mandate/packed/u7/decision');
  });

  it('handles sub-packages and raw strings', () => {
    const result = rewrite('package mandate.tenant.util\n\nx := `data` \nre := `a\\d`\n');
    expect(result).toEqual({
      ok: true,
      source: 'package mandate.packed.u7.util\n\nx := `data` \nre := `a\\d`\n',
    });
  });

  it.each([
    ['the whole data document', 'package mandate.tenant\n\nx := data\n'],
    ['a dynamic ref into data', 'package mandate.tenant\n\nx := data[input.k]\n'],
    [
      'another package under mandate',
      'package mandate.tenant\n\nx := data.mandate.base.decision\n',
    ],
    ['data.mandate itself', 'package mandate.tenant\n\nx := data.mandate\n'],
    ['a different package', 'package mandate.base\n\nx := 1\n'],
    ['a package not first', '# hi\nx := 1\npackage mandate.tenant\n'],
    ['an unterminated string', 'package mandate.tenant\n\nx := "oops\n'],
  ])('refuses %s', (_name, source) => {
    expect(rewrite(source).ok).toBe(false);
  });
});
