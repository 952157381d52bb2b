// The verifier's checks, one refusal at a time, against a real JWKS endpoint and real jose keys.
import { createHash } from 'node:crypto';
import { CompactSign, exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuerConfig } from '../../src/config/types.js';
import type { TokenFailure } from '../../src/token/errors.js';
import type { TokenVerifier, VerifyResult } from '../../src/token/types.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import {
  AUDIENCE,
  ISSUER,
  TOKEN_CONFIG,
  createClock,
  createTestKey,
  encodeSegment,
  issuerConfig,
  remoteSource,
  signToken,
  type TestKey,
} from '../helpers/tokens.js';

let server: JwksServer;
let rsa: TestKey;
let ec: TestKey;
let rs512: TestKey;
let stranger: TestKey;
const clock = createClock();

function verifierFor(overrides: Partial<IssuerConfig> = {}): TokenVerifier {
  return createTokenVerifier({
    issuers: [issuerConfig(remoteSource(server.url), overrides)],
    token: TOKEN_CONFIG,
    now: clock.now,
  });
}

function expectFailure(
  result: VerifyResult,
  code: TokenFailure['code'],
  token?: string,
): TokenFailure {
  expect(result.ok).toBe(false);
  const failure = result as TokenFailure;
  expect(failure.code).toBe(code);
  if (token !== undefined) {
    // No part of the token, not even its header, may leak into the message.
    for (const part of token.split('.'))
      if (part.length > 8) expect(failure.message).not.toContain(part);
  }
  return failure;
}

let verifier: TokenVerifier;

beforeAll(async () => {
  [rsa, ec, rs512, stranger] = await Promise.all([
    createTestKey('RS256', 'rsa-1'),
    createTestKey('ES256', 'ec-1'),
    createTestKey('RS512', 'rsa-512'),
    createTestKey('RS256', 'rsa-1'),
  ]);
  server = await startJwksServer([rsa.jwk, ec.jwk, rs512.jwk]);
  verifier = verifierFor();
  await verifier.start();
});

afterAll(async () => {
  await verifier.stop();
  await server.close();
});

const sign = (key: TestKey, options: Parameters<typeof signToken>[1] = {}) =>
  signToken(key, { nowMs: clock.now(), ...options });

describe('accepts', () => {
  it('a valid RS256 token, with the verified claims, header, issuer, expiry and hash', async () => {
    const token = await sign(rsa);
    const result = await verifier.verify(token);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.claims.sub).toBe('user-1');
    expect(result.header).toEqual({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' });
    expect(result.issuer).toBe(ISSUER);
    expect(result.expiresAtMs).toBe((result.claims.exp as number) * 1000);
    expect(result.tokenHash).toBe(createHash('sha256').update(token).digest('hex').slice(0, 16));
    expect(result.cached).toBe(false);
    expect(Object.isFrozen(result.claims)).toBe(true);
  });

  it('a valid ES256 token', async () => {
    expect((await verifier.verify(await sign(ec))).ok).toBe(true);
  });

  it('typ application/AT+JWT (case-insensitive, media-type prefix ignored)', async () => {
    const token = await sign(ec, { header: { typ: 'application/AT+JWT' } });
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('an aud array that contains a configured audience', async () => {
    const token = await sign(rsa, { claims: { aud: ['other', AUDIENCE] } });
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('a token expired by less than the clock tolerance', async () => {
    const nowS = Math.floor(clock.now() / 1000);
    const token = await sign(rsa, { claims: { exp: nowS - 10, iat: nowS - 100 } });
    expect((await verifier.verify(token)).ok).toBe(true);
  });
});

describe('refuses', () => {
  it('no token with token_missing', async () => {
    expectFailure(await verifier.verify(''), 'token_missing');
  });

  it.each([
    ['garbage', 'not a token'],
    ['two parts', `${encodeSegment({ alg: 'RS256' })}.${encodeSegment({ iss: ISSUER })}`],
    ['four parts', 'a.b.c.d'],
    ['empty segments', '..'],
    ['non-JSON header', `${Buffer.from('nope').toString('base64url')}.${encodeSegment({})}.sig`],
    ['array payload', `${encodeSegment({ alg: 'RS256' })}.${encodeSegment([1])}.sig`],
    [
      'non-base64url characters',
      `${encodeSegment({ alg: 'RS256' })}.${encodeSegment({ iss: ISSUER })}+/.sig`,
    ],
  ])('%s with token_malformed', async (_name, token) => {
    expectFailure(await verifier.verify(token), 'token_malformed');
  });

  it('a 1 MB token with token_malformed before parsing', async () => {
    const token = `${encodeSegment({ alg: 'RS256' })}.${'A'.repeat(1024 * 1024)}.sig`;
    const failure = expectFailure(await verifier.verify(token), 'token_malformed');
    expect(failure.message).toMatch(/maximum size/);
  });

  it('an expired token with token_expired', async () => {
    const nowS = Math.floor(clock.now() / 1000);
    const token = await sign(rsa, { claims: { exp: nowS - 60, iat: nowS - 600 } });
    expectFailure(await verifier.verify(token), 'token_expired', token);
  });

  it('nbf in the future with token_not_yet_valid', async () => {
    const token = await sign(rsa, { claims: { nbf: Math.floor(clock.now() / 1000) + 120 } });
    expectFailure(await verifier.verify(token), 'token_not_yet_valid', token);
  });

  it('iat in the future beyond tolerance with token_not_yet_valid', async () => {
    const token = await sign(rsa, { claims: { iat: Math.floor(clock.now() / 1000) + 120 } });
    expectFailure(await verifier.verify(token), 'token_not_yet_valid', token);
  });

  it('a token bound to anything but a DPoP key with token_binding_unverified; a DPoP-bound one carries its key', async () => {
    const jkt = 'A'.repeat(43);
    const dpopBound = await sign(rsa, { claims: { cnf: { jkt } } });
    const verified = await verifier.verify(dpopBound);
    // Verified, and marked: decide() then wants a proof by that key with every request.
    expect(verified.ok && verified.dpopJkt).toBe(jkt);
    const mtls = await sign(rsa, { claims: { cnf: { 'x5t#S256': 'B'.repeat(43) } } });
    expectFailure(await verifier.verify(mtls), 'token_binding_unverified', mtls);
    const both = await sign(rsa, { claims: { cnf: { jkt, 'x5t#S256': 'B'.repeat(43) } } });
    expectFailure(await verifier.verify(both), 'token_binding_unverified', both);
    const accepting = verifierFor({ senderConstrained: 'accept' });
    await accepting.start();
    try {
      for (const token of [dpopBound, mtls]) {
        const result = await accepting.verify(token);
        expect(result.ok).toBe(true);
        expect(result.ok && result.dpopJkt).toBeUndefined();
      }
    } finally {
      await accepting.stop();
    }
    // An unbound token is not affected either way.
    const plain = await verifier.verify(await sign(rsa));
    expect(plain.ok && plain.dpopJkt).toBeUndefined();
  });

  it('an unknown issuer with issuer_unknown, reporting the untrusted iss for audit', async () => {
    const token = await sign(rsa, { claims: { iss: 'https://evil.example' } });
    const failure = expectFailure(await verifier.verify(token), 'issuer_unknown', token);
    expect(failure.issuer).toBe('https://evil.example');
    expect(failure.message).not.toContain('evil');
  });

  it('an issuer that differs only by a trailing slash (exact match)', async () => {
    const token = await sign(rsa, { claims: { iss: `${ISSUER}/` } });
    expectFailure(await verifier.verify(token), 'issuer_unknown');
  });

  it('a token without iss with issuer_unknown', async () => {
    const token = await sign(rsa, { claims: { iss: undefined } });
    expectFailure(await verifier.verify(token), 'issuer_unknown');
  });

  it('a wrong audience with audience_mismatch', async () => {
    const token = await sign(rsa, { claims: { aud: ['billing-api', 'other'] } });
    const failure = expectFailure(await verifier.verify(token), 'audience_mismatch', token);
    expect(failure.issuer).toBe(ISSUER);
  });

  it('a wrong or missing typ with token_type_invalid', async () => {
    for (const typ of ['JWT', 'application/jwt', undefined]) {
      const token = await sign(rsa, { header: { typ } });
      expectFailure(await verifier.verify(token), 'token_type_invalid', token);
    }
  });

  it('any typ when tokenTypes is not configured', async () => {
    const lenient = verifierFor({ tokenTypes: undefined });
    await lenient.start();
    expect((await lenient.verify(await sign(rsa, { header: { typ: 'JWT' } }))).ok).toBe(true);
    await lenient.stop();
  });

  it('alg none with algorithm_not_allowed', async () => {
    const nowS = Math.floor(clock.now() / 1000);
    const payload = {
      iss: ISSUER,
      sub: 'admin',
      aud: AUDIENCE,
      exp: nowS + 600,
      iat: nowS,
      jti: 'x',
      client_id: 'c',
    };
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${encodeSegment({ alg, typ: 'at+jwt' })}.${encodeSegment(payload)}.`;
      expectFailure(await verifier.verify(token), 'algorithm_not_allowed', token);
    }
  });

  it('HS256 signed with the RSA public key as HMAC secret (key confusion)', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const nowS = Math.floor(clock.now() / 1000);
    const claims = {
      iss: ISSUER,
      sub: 'admin',
      aud: AUDIENCE,
      exp: nowS + 600,
      iat: nowS,
      jti: 'x',
      client_id: 'c',
    };
    const secrets = [
      new TextEncoder().encode(pem),
      new TextEncoder().encode(JSON.stringify(rsa.jwk)),
    ];
    // Even an issuer whose allow-list wrongly names HS256 must refuse: its keys are not a secret.
    const misconfigured = verifierFor({ algorithms: ['RS256', 'HS256'] });
    await misconfigured.start();
    for (const secret of secrets) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'at+jwt' })
        .sign(secret);
      expectFailure(await verifier.verify(token), 'algorithm_not_allowed', token);
      expectFailure(await misconfigured.verify(token), 'algorithm_not_allowed', token);
    }
    await misconfigured.stop();
  });

  it('an algorithm outside the allow-list even with a published key', async () => {
    const token = await sign(rs512);
    expectFailure(await verifier.verify(token), 'algorithm_not_allowed', token);
  });

  it('an unknown kid with key_not_found', async () => {
    const token = await sign(stranger, { header: { kid: 'no-such-kid' } });
    expectFailure(await verifier.verify(token), 'key_not_found', token);
  });

  it('a signature by another key under a published kid with token_invalid_signature', async () => {
    const token = await sign(stranger); // kid rsa-1, but not the published rsa-1 key
    expectFailure(await verifier.verify(token), 'token_invalid_signature', token);
  });

  it('a tampered payload with token_invalid_signature', async () => {
    const token = await sign(rsa);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const forged = `${header}.${encodeSegment({ ...claims, sub: 'admin' })}.${signature}`;
    expectFailure(await verifier.verify(forged), 'token_invalid_signature', forged);
  });

  it('a tampered header with token_invalid_signature', async () => {
    const token = await sign(rsa);
    const [, payload, signature] = token.split('.') as [string, string, string];
    const forged = `${encodeSegment({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt', x: 1 })}.${payload}.${signature}`;
    expectFailure(await verifier.verify(forged), 'token_invalid_signature', forged);
  });

  it('a missing required claim with claim_missing naming the claim', async () => {
    const token = await sign(rsa, { claims: { client_id: undefined } });
    const failure = expectFailure(await verifier.verify(token), 'claim_missing', token);
    expect(failure.message).toContain('"client_id"');
  });

  it('a token without exp, whatever requiredClaims says', async () => {
    const lenient = verifierFor({ requiredClaims: [] });
    await lenient.start();
    const token = await sign(rsa, { claims: { exp: undefined } });
    expect(expectFailure(await lenient.verify(token), 'claim_missing').message).toContain('"exp"');
    await lenient.stop();
  });

  /** `depth` nested actors, outermost first; `leaf` replaces the innermost `act` when given. */
  function chain(depth: number, leaf?: unknown): Record<string, unknown> {
    let act: Record<string, unknown> | undefined;
    for (let i = depth; i >= 1; i--) {
      const inner = act ?? leaf;
      act = { sub: `agent-${i}`, ...(inner !== undefined ? { act: inner } : {}) };
    }
    return act as Record<string, unknown>;
  }

  it.each([
    ['an array', ['agent-1']],
    ['an array of actor objects', [{ sub: 'agent-1' }]],
    ['a string', 'agent-1'],
    ['a number', 7],
    ['null', null],
    ['true', true],
    ['an actor without sub', { client_id: 'agent-1' }],
    ['an actor whose sub is a number', { sub: 42 }],
    ['an actor whose sub is empty', { sub: '' }],
    ['a nested array', chain(2, ['hidden'])],
    ['a nested string', chain(3, 'hidden')],
    ['a nested number', chain(1, 0)],
    ['a nested null', chain(1, null)],
    ['a nested actor without sub', chain(4, { act: { sub: 'hidden' } })],
    ['a chain deeper than 32 actors', chain(33)],
  ])('an act claim that is %s with claim_invalid', async (_name, act) => {
    const token = await sign(rsa, { claims: { act } });
    const failure = expectFailure(await verifier.verify(token), 'claim_invalid', token);
    expect(failure.message).toContain('"act"');
    expect(failure.message).not.toContain('hidden');
  });

  it('accepts a well-formed act chain up to 32 actors', async () => {
    for (const depth of [1, 2, 32]) {
      const result = await verifier.verify(await sign(rsa, { claims: { act: chain(depth) } }));
      expect(result.ok, `depth ${depth}`).toBe(true);
    }
  });

  it('a non-numeric exp with token_malformed', async () => {
    const token = await sign(rsa, { claims: { exp: 'tomorrow' } });
    expectFailure(await verifier.verify(token), 'token_malformed', token);
  });

  it('a critical header extension with token_malformed (we implement none)', async () => {
    const nowS = Math.floor(clock.now() / 1000);
    const claims = {
      iss: ISSUER,
      sub: 'u',
      aud: AUDIENCE,
      exp: nowS + 600,
      iat: nowS,
      jti: 'x',
      client_id: 'c',
    };
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({
        alg: 'RS256',
        kid: rsa.kid,
        typ: 'at+jwt',
        crit: ['urn:x'],
        'urn:x': 1,
      })
      .sign(rsa.privateKey, { crit: { 'urn:x': true } });
    expectFailure(await verifier.verify(token), 'token_malformed', token);
  });
});

describe('construction', () => {
  it('refuses the same issuer twice with a TypeError', () => {
    const config = issuerConfig(remoteSource(server.url));
    expect(() => createTokenVerifier({ issuers: [config, config], token: TOKEN_CONFIG })).toThrow(
      TypeError,
    );
  });
});
