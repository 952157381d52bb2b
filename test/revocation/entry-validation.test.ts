// The revocation entry rules on their own: value fields, tenants, absolute entries, issued_before and expiry.
import { describe, expect, it } from 'vitest';
import {
  issuedBeforeOf,
  validateRevocationEntry,
  type RevocationEntryInput,
} from '../../src/revocation/entry-validation.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const context = {
  id: 'rv_1',
  createdBy: 'token:abcd1234',
  nowMs: NOW,
  clockSkewSeconds: 60,
  horizonMs: 3600_000,
};
const check = (input: RevocationEntryInput) => validateRevocationEntry(input, context);
const refusal = (input: RevocationEntryInput) => {
  const result = check(input);
  return result.ok ? undefined : result.message;
};

describe('validateRevocationEntry', () => {
  it('builds a frozen token entry cut off at its creation', () => {
    const result = check({ kind: 'token', jti: 'j1', reason: 'leaked' });
    expect(result).toEqual({
      ok: true,
      entry: {
        id: 'rv_1',
        kind: 'token',
        value: 'j1',
        reason: 'leaked',
        createdBy: 'token:abcd1234',
        createdAtMs: NOW,
        expiresAtMs: NOW + 3600_000,
      },
    });
    expect(result.ok && Object.isFrozen(result.entry)).toBe(true);
  });

  it('takes exactly the value field of the kind', () => {
    expect(refusal({ kind: 'token' })).toBe('jti: is required for kind token');
    expect(refusal({ kind: 'token', jti: 'j', sub: 's' })).toBe(
      'sub: is not allowed for kind token',
    );
    expect(refusal({ kind: 'tenant', tenant: 't', actor: 'a' })).toBe(
      'actor: is not allowed for kind tenant',
    );
    expect(check({ kind: 'tenant', tenant: 't' }).ok).toBe(true);
  });

  it('requires a tenant for subject, client and tenant entries', () => {
    for (const input of [
      { kind: 'subject', sub: 'u' },
      { kind: 'client', client_id: 'c' },
      { kind: 'tenant' },
    ] as const) {
      expect(refusal(input)).toBe(`tenant: is required for kind ${input.kind}`);
    }
    expect(check({ kind: 'grant', grant_id: 'g' }).ok).toBe(true);
  });

  it('allows absolute entries only for grant and actor, and never with issued_before', () => {
    expect(refusal({ kind: 'subject', tenant: 't', sub: 'u', absolute: true })).toBe(
      'absolute: is only allowed for kinds grant and actor',
    );
    expect(refusal({ kind: 'actor', actor: 'a', absolute: true, issued_before: 1 })).toBe(
      'issued_before: is not allowed with absolute: true',
    );
    const absolute = check({ kind: 'actor', actor: 'a', absolute: true });
    expect(absolute.ok && absolute.entry.issuedBeforeMs).toBeUndefined();
    expect(absolute.ok && absolute.entry.expiresAtMs).toBeUndefined();
  });

  it('refuses issued_before on a token, in the future, or too old to matter', () => {
    expect(refusal({ kind: 'token', jti: 'j', issued_before: 1 })).toMatch(/kind token/);
    expect(refusal({ kind: 'grant', grant_id: 'g', issued_before: NOW / 1000 + 61 })).toBe(
      'issued_before: must not be in the future (more than 60 s ahead)',
    );
    expect(check({ kind: 'grant', grant_id: 'g', issued_before: NOW / 1000 + 60 }).ok).toBe(true);
    expect(refusal({ kind: 'grant', grant_id: 'g', issued_before: NOW / 1000 - 3600 })).toMatch(
      /so long ago/,
    );
  });

  it('defaults issued_before to now for entries that are not absolute', () => {
    const result = check({ kind: 'subject', tenant: 't', sub: 'u' });
    expect(result.ok && result.entry.issuedBeforeMs).toBe(NOW);
  });
});

describe('issuedBeforeOf', () => {
  it('reads RFC 3339 times and epoch seconds', () => {
    expect(issuedBeforeOf('2026-06-01T12:00:00Z')).toEqual({ ok: true, ms: NOW });
    expect(issuedBeforeOf(NOW / 1000)).toEqual({ ok: true, ms: NOW });
  });

  it('names the field for anything else', () => {
    for (const bad of ['yesterday', '2026-06-01', -1, 1.5, true, null, {}]) {
      const result = issuedBeforeOf(bad);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).toMatch(/^issued_before: /);
    }
  });
});
