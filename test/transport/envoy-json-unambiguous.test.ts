// jsonAmbiguityOf: JSON any parser reads alike passes; a repeated member name or an inexact number is named.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonAmbiguityOf } from '../../src/transport/envoy/json-unambiguous.js';

describe('jsonAmbiguityOf', () => {
  it('finds nothing in what JSON.stringify writes (no repeated names, safe numbers)', () => {
    const safe = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(safe, (value) => {
        expect(jsonAmbiguityOf(JSON.stringify(value))).toBeUndefined();
      }),
    );
  });

  it('names a member repeated in one object, however it is spelled', () => {
    for (const text of [
      '{"a":1,"a":2}',
      '{"x":{"b":[1,{"c":0}],"b":2}}',
      '{"a":1,"\\u0061":2}',
      '[{"k":"v"},{"k":"v","k":"w"}]',
      '{ "a" : 1 , "b":{}, "a" : 3 }',
    ]) {
      expect(jsonAmbiguityOf(text), text).toMatch(/appears twice/);
    }
  });

  it('accepts a name repeated across objects, in strings, and escaped quotes', () => {
    for (const text of [
      '{"a":{"a":1},"b":[{"a":2},{"a":3}]}',
      '{"a":"\\"a\\":1","b":"a"}',
      '{"a\\"":1,"a":2}',
      '[]',
      '"a"',
    ]) {
      expect(jsonAmbiguityOf(text), text).toBeUndefined();
    }
  });

  it('names numbers a double cannot hold', () => {
    expect(jsonAmbiguityOf('{"n":9007199254740993}')).toMatch(/beyond/);
    expect(jsonAmbiguityOf('[1e400]')).toMatch(/beyond/);
    expect(jsonAmbiguityOf('[-9007199254740993]')).toMatch(/beyond/);
    expect(jsonAmbiguityOf('[9007199254740991, 0.5, -1e-400]')).toBeUndefined();
  });
});
