// Reading OPA-Envoy results: booleans, objects, and every malformed shape as an explained deny.
import { describe, expect, it } from 'vitest';
import { StatusCode } from '../../src/gen/envoy/type/v3/http_status.js';
import { ENVOY_HTTP_STATUSES, readCompatResult } from '../../src/policy/compat-result.js';

const read = (result: unknown) =>
  readCompatResult(result === undefined ? [] : [{ result }], 'envoy/authz/allow');

describe('readCompatResult', () => {
  it('allows only true or a well-formed object with allowed: true', () => {
    expect(read(true)).toEqual({ allow: true, reasons: [], result: true });
    expect(read({ allowed: true, headers: [{ a: 'b' }, { c: ['d'] }] }).allow).toBe(true);
    expect(read(false).reasons[0]?.message).toBe('denied by the policy at envoy/authz/allow');
    expect(read({ allowed: false, http_status: 402 }).allow).toBe(false);
  });

  it('explains undefined, wrong types and malformed objects', () => {
    expect(read(undefined).reasons[0]?.message).toBe(
      'the policy produced no decision at envoy/authz/allow',
    );
    expect(read('yes').reasons[0]?.message).toMatch(/neither a boolean nor an object/);
    const cases: [unknown, string][] = [
      [{}, 'no boolean "allowed"'],
      [{ allowed: true, headers: 'x' }, 'headers must be an object'],
      [{ allowed: true, headers: { a: 1 } }, 'headers.a must be a string'],
      [
        { allowed: true, request_headers_to_remove: 'x' },
        'request_headers_to_remove must be a list',
      ],
      [{ allowed: true, query_parameters_to_set: { a: 1 } }, 'query_parameters_to_set.a'],
      [{ allowed: false, body: 1 }, 'body must be a string'],
      [{ allowed: false, http_status: 99 }, 'http_status must be an HTTP status code'],
      // Go's net/http knows 418, Envoy's HttpStatus enum does not: OPA-Envoy fails on it.
      [{ allowed: false, http_status: 418 }, 'http_status must be an HTTP status code'],
      [{ allowed: false, http_status: 306 }, 'http_status must be an HTTP status code'],
      [{ allowed: false, http_status: 403.5 }, 'http_status must be an HTTP status code'],
      // The generated enum's UNRECOGNIZED placeholder and proto3's zero default are no statuses.
      [{ allowed: false, http_status: -1 }, 'http_status must be an HTTP status code'],
      [{ allowed: false, http_status: 0 }, 'http_status must be an HTTP status code'],
      [{ allowed: true, dynamic_metadata: [] }, 'dynamic_metadata must be an object'],
    ];
    for (const [result, message] of cases) {
      const verdict = read(result);
      expect(verdict.allow).toBe(false);
      expect(verdict.reasons[0]?.code).toBe('policy_denied');
      expect(verdict.reasons[0]?.message).toContain(message);
      // Nothing of an unusable result may shape the answer, and it is reported for the log.
      expect(verdict.result).toBeUndefined();
      expect(verdict.problem).toContain(message);
    }
  });

  it('keeps a well-formed deny (status Envoy knows, body, headers) to shape the answer', () => {
    const result = { allowed: false, http_status: 402, body: 'pay', headers: { 'x-a': 'b' } };
    const verdict = read(result);
    expect(verdict).toMatchObject({ allow: false, result });
    expect(verdict.problem).toBeUndefined();
    expect(read(false)).toMatchObject({ allow: false, result: false });
    expect(read({ allowed: false, http_status: 200 }).result).toEqual({
      allowed: false,
      http_status: 200,
    });
  });

  it("accepts exactly the statuses of Envoy's HttpStatus enum", () => {
    const envoy = Object.values(StatusCode).filter(
      (v): v is number => typeof v === 'number' && v > 0,
    );
    expect([...ENVOY_HTTP_STATUSES].sort((a, b) => a - b)).toEqual(envoy.sort((a, b) => a - b));
    for (const status of envoy)
      expect(read({ allowed: false, http_status: status }).problem).toBe(undefined);
  });
});
