// The JWT verification cache: a cached signature never stands in for the time, issuer and audience checks.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHostBuiltins } from '../../src/policy/builtins/index.js';

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const NOW = 1_750_000_000;

function hs256(claims: Record<string, unknown>, secret = 'secret'): string {
  const signed = `${part({ alg: 'HS256' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

/** decode_verify's verdict, reading the JSON text host builtins hand to the Wasm. */
function verdict(answer: unknown): boolean | undefined {
  if (answer === undefined) return undefined;
  const value: unknown =
    answer instanceof ArrayBuffer ? JSON.parse(new TextDecoder().decode(answer)) : answer;
  return (value as [boolean])[0];
}

describe('io.jwt.decode_verify cache', () => {
  let clockNs = BigInt(NOW) * 1_000_000_000n;
  const builtins = createHostBuiltins({ nowNs: () => clockNs, decision: () => 0 });
  const decodeVerify = builtins['io.jwt.decode_verify']!;
  const token = hs256({ iss: 'a', aud: 'b', nbf: NOW - 10, exp: NOW + 10 });

  it('re-checks exp and nbf against each call’s time, from the decision clock or the constraint', () => {
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b' }))).toBe(true);
    clockNs = BigInt(NOW + 10) * 1_000_000_000n;
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b' }))).toBe(false);
    clockNs = BigInt(NOW - 11) * 1_000_000_000n;
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b' }))).toBe(false);
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b', time: NOW * 1e9 }))).toBe(
      true,
    );
    clockNs = BigInt(NOW) * 1_000_000_000n;
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b' }))).toBe(true);
  });

  it('re-checks iss, aud and alg, and keys the signature by its key material', () => {
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b', iss: 'a' }))).toBe(true);
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b', iss: 'x' }))).toBe(false);
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'x' }))).toBe(false);
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b', alg: 'HS384' }))).toBe(false);
    expect(verdict(decodeVerify(token, { secret: 'other', aud: 'b' }))).toBe(false);
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b' }))).toBe(true);
  });

  it('remembers a malformed token as undefined, and stays bounded under many tokens', () => {
    expect(decodeVerify('a.b', { secret: 'secret' })).toBeUndefined();
    expect(decodeVerify('a.b', { secret: 'secret' })).toBeUndefined();
    for (let i = 0; i < 10_000; i++) decodeVerify(hs256({ i }), { secret: 'secret' });
    expect(verdict(decodeVerify(token, { secret: 'secret', aud: 'b' }))).toBe(true);
  });
});
