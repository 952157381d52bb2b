// Masking: configured JSON-pointer rules, credentials scrubbed wherever they hide, and the caller's objects never touched.
import { describe, expect, it } from 'vitest';
import { createMasker } from '../../src/audit/mask.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { parsePointer } from '../../src/config/audit.js';
import type { AuditMaskRule } from '../../src/config/types.js';

const JWS =
  'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJlLWJ5dGVz';

function rule(op: 'erase' | 'mask', path: string, value: unknown = '[masked]'): AuditMaskRule {
  const segments = parsePointer('test', path);
  return op === 'erase' ? { op, path, segments } : { op, path, segments, value };
}

function record(input: object, extra: Record<string, unknown> = {}): AuditRecord {
  return {
    type: 'decision',
    schema_version: 1,
    decision_id: 'd-1',
    time: '2026-11-28T09:20:10.000000000Z',
    transport: 'http',
    allow: true,
    reasons: [],
    action: 'contacts.read',
    sub: 'user-1',
    latency_us: 10,
    input,
    ...extra,
  } as AuditRecord;
}

describe('mask rules', () => {
  it('erases and masks by pointer, lists what it touched, and leaves the original intact', () => {
    const attributes = { ssn: '123-45-6789', owner: 'user-1', tags: ['a', 'b'] };
    const claims = { email: 'ann@example.com', sub: 'user-1' };
    const input = { resource: { type: 'contact', attributes }, claims };
    const original = record(input);
    const masked = createMasker([
      rule('erase', '/input/resource/attributes/ssn'),
      rule('mask', '/input/claims/email', '***'),
      rule('erase', '/input/resource/attributes/missing'),
    ])(original) as unknown as Record<string, unknown>;

    expect(masked['input']).toEqual({
      resource: { type: 'contact', attributes: { owner: 'user-1', tags: ['a', 'b'] } },
      claims: { email: '***', sub: 'user-1' },
    });
    expect(masked['erased']).toEqual(['/input/resource/attributes/ssn']);
    expect(masked['masked']).toEqual(['/input/claims/email']);
    // Shared objects (the verified-token cache's claims, the request body) are never modified.
    expect(attributes.ssn).toBe('123-45-6789');
    expect(claims.email).toBe('ann@example.com');
    expect((original as unknown as Record<string, unknown>)['erased']).toBeUndefined();
  });

  it('matches every key or index with *, and erases array elements', () => {
    const input = {
      items: [
        { id: 1, card: '4111' },
        { id: 2, card: '4242' },
      ],
      list: ['keep', 'drop'],
    };
    const masked = createMasker([
      rule('mask', '/input/items/*/card'),
      rule('erase', '/input/list/1'),
    ])(record(input)) as unknown as Record<string, unknown>;
    expect(masked['input']).toEqual({
      items: [
        { id: 1, card: '[masked]' },
        { id: 2, card: '[masked]' },
      ],
      list: ['keep'],
    });
    expect(masked['masked']).toEqual(['/input/items/0/card', '/input/items/1/card']);
  });

  it('returns the very same record when nothing applies', () => {
    const r = record({ action: 'x', context: { ip: '10.0.0.1' } });
    expect(createMasker([rule('erase', '/input/claims/email')])(r)).toBe(r);
  });

  it('can mask top-level attribution fields, e.g. pseudonymous subjects', () => {
    const masked = createMasker([rule('mask', '/sub', 'anon')])(record({})) as unknown as Record<
      string,
      unknown
    >;
    expect(masked['sub']).toBe('anon');
  });
});

describe('credentials, by construction', () => {
  it('erases authorization and cookie headers anywhere, and scrubs bearer values and JWS strings', () => {
    const input = {
      context: {
        headers: { Authorization: `Bearer ${JWS}`, cookie: 'sid=1', accept: 'json' },
        note: `pasted token ${JWS} here`,
        api: 'Basic dXNlcjpwYXNz',
      },
      attributes: { 'proxy-authorization': 'x', deep: [{ token: JWS }] },
    };
    const masked = createMasker([])(record(input, { request_id: JWS })) as unknown as Record<
      string,
      unknown
    >;
    const text = JSON.stringify(masked);
    expect(text).not.toContain(JWS);
    expect(text).not.toContain('dXNlcjpwYXNz');
    // The header names survive only as pointers in `erased`, never as keys with values.
    expect(JSON.stringify(masked['input'])).not.toMatch(/authorization/i);
    expect(text).not.toContain('sid=1');
    expect(masked['input']).toMatchObject({
      context: {
        headers: { accept: 'json' },
        note: 'pasted token [credential] here',
        api: '[credential]',
      },
      attributes: { deep: [{ token: '[credential]' }] },
    });
    expect(masked['erased']).toEqual([
      '/input/context/headers/Authorization',
      '/input/context/headers/cookie',
      '/input/attributes/proxy-authorization',
    ]);
    expect(masked['masked']).toEqual(
      expect.arrayContaining([
        '/request_id',
        '/input/context/note',
        '/input/context/api',
        '/input/attributes/deep/0/token',
      ]),
    );
  });

  it('cuts hostile nesting instead of recursing without bound', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const masked = createMasker([])(record({ context: deep })) as unknown as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(masked)).toContain('[too deep]');
  });
});

describe('mask rule pointers', () => {
  it('parses RFC 6901 escapes and refuses the fields that identify a record', () => {
    expect(parsePointer('k', '/input/a~1b/c~0d')).toEqual(['input', 'a/b', 'c~d']);
    expect(() => parsePointer('audit.mask[0].path', 'input/x')).toThrow(/audit.mask\[0\].path/);
    expect(() => parsePointer('k', '/decision_id')).toThrow(/cannot be masked/);
    expect(() => parsePointer('k', '/time')).toThrow(/cannot be masked/);
    expect(() => parsePointer('k', '/reasons')).toThrow(/cannot be masked/);
    expect(parsePointer('k', '/reasons/*/message')).toEqual(['reasons', '*', 'message']);
    expect(() => parsePointer('k', '/input//x')).toThrow(/empty segment/);
  });
});
