// DPoP proofs (RFC 9449): a good proof passes once; every way a proof can be for another key, request, token or time is refused.
import { createHash, randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDpopVerifier, type DpopEvidence, type DpopRequest } from '../../src/token/dpop.js';

const ACCESS_TOKEN = 'header.payload.signature';
const URL_OF = 'https://api.example.com/v1/tickets/7';
let privateKey: CryptoKey;
let jwk: JWK;
let jkt: string;
let other: { privateKey: CryptoKey; jwk: JWK };
let nowMs = Date.UTC(2026, 10, 28, 12, 0, 0);
const now = () => nowMs;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  jwk = await exportJWK(pair.publicKey);
  jkt = await calculateJwkThumbprint(jwk, 'sha256');
  const second = await generateKeyPair('ES256', { extractable: true });
  other = { privateKey: second.privateKey, jwk: await exportJWK(second.publicKey) };
});

interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  ath?: string | null;
  typ?: string;
  key?: CryptoKey;
  headerJwk?: JWK;
}

function proof(o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: o.htm ?? 'POST',
    htu: o.htu ?? URL_OF,
    jti: o.jti ?? randomUUID(),
  };
  if (o.ath !== null) {
    claims['ath'] = o.ath ?? createHash('sha256').update(ACCESS_TOKEN).digest('base64url');
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: o.typ ?? 'dpop+jwt', jwk: o.headerJwk ?? jwk })
    .setIssuedAt(o.iat ?? Math.floor(nowMs / 1000))
    .sign(o.key ?? privateKey);
}

const REQUEST: DpopRequest = {
  method: 'POST',
  scheme: 'https',
  authority: 'api.example.com',
  path: '/v1/tickets/7',
};

const evidence = (p: string | undefined, over: Partial<DpopEvidence> = {}): DpopEvidence => ({
  scheme: 'dpop',
  proof: p,
  request: REQUEST,
  ...over,
});

/** The failure's message, or undefined when the proof passed. */
async function verifyMessage(
  verifier: ReturnType<typeof createDpopVerifier>,
  e: DpopEvidence,
): Promise<string | undefined> {
  return (await verifier.verify(e, ACCESS_TOKEN, jkt))?.message;
}

describe('DPoP proofs', () => {
  it('accept a fresh proof by the bound key for this request and token, once', async () => {
    const verifier = createDpopVerifier({ now });
    const p = await proof();
    expect(await verifier.verify(evidence(p), ACCESS_TOKEN, jkt)).toBeUndefined();
    expect(await verifyMessage(verifier, evidence(p))).toMatch(/used before/);
    // A new proof for the same request is fine; the query string is not part of htu.
    const again = await proof({ htu: `${URL_OF}?page=2` });
    expect(await verifier.verify(evidence(again), ACCESS_TOKEN, jkt)).toBeUndefined();
  });

  it.each([
    ['another method', () => proof({ htm: 'GET' }), {}, /htm/],
    ['another URL', () => proof({ htu: 'https://api.example.com/v1/tickets/8' }), {}, /htu/],
    ['another host', () => proof({ htu: 'https://evil.example.com/v1/tickets/7' }), {}, /htu/],
    ['another scheme', () => proof({ htu: 'http://api.example.com/v1/tickets/7' }), {}, /htu/],
    ['another access token', () => proof({ ath: 'x'.repeat(43) }), {}, /ath/],
    ['no ath', () => proof({ ath: null }), {}, /ath/],
    ['another key', () => proof({ key: other.privateKey, headerJwk: other.jwk }), {}, /not bound/],
    [
      'a key that did not sign it',
      () => proof({ key: other.privateKey }),
      {},
      /signature or timestamps/,
    ],
    ['too old', () => proof({ iat: Math.floor(nowMs / 1000) - 120 }), {}, /timestamps/],
    ['from the future', () => proof({ iat: Math.floor(nowMs / 1000) + 120 }), {}, /timestamps/],
    ['typ jwt', () => proof({ typ: 'jwt' }), {}, /typ/],
    ['the Bearer scheme', () => proof(), { scheme: 'bearer' as const }, /DPoP scheme/],
  ])('refuse a proof for %s', async (_what, make, over, message) => {
    const verifier = createDpopVerifier({ now });
    expect(await verifyMessage(verifier, evidence(await make(), over))).toMatch(message);
  });

  it('refuse no proof, garbage, a private key in the header, and a symmetric algorithm', async () => {
    const verifier = createDpopVerifier({ now });
    expect(await verifyMessage(verifier, evidence(undefined))).toMatch(/missing/);
    expect(await verifyMessage(verifier, evidence('not.a.jws'))).toMatch(/well-formed/);
    const withPrivate = await proof({ headerJwk: { ...jwk, d: 'secret' } });
    expect(await verifyMessage(verifier, evidence(withPrivate))).toMatch(/public key/);
    const hs = await new SignJWT({ htm: 'POST', htu: URL_OF, jti: 'j' })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk })
      .setIssuedAt(Math.floor(nowMs / 1000))
      .sign(new Uint8Array(32));
    expect(await verifyMessage(verifier, evidence(hs))).toMatch(/algorithm/);
  });

  it('accept only the algorithms they are given, and refuse to be given a non-proof algorithm', async () => {
    const es256Only = createDpopVerifier({ now, algorithms: ['ES256'] });
    expect(await verifyMessage(es256Only, evidence(await proof()))).toBeUndefined();
    const others = createDpopVerifier({ now, algorithms: ['ES384', 'EdDSA'] });
    expect(await verifyMessage(others, evidence(await proof()))).toMatch(
      /algorithm is not allowed/,
    );
    expect(() => createDpopVerifier({ algorithms: ['HS256'] })).toThrow(TypeError);
  });

  it('forgets a proof id once the proof would be too old anyway', async () => {
    const verifier = createDpopVerifier({ now, maxAgeSeconds: 60 });
    const p = await proof({ jti: 'reused-later' });
    expect(await verifier.verify(evidence(p), ACCESS_TOKEN, jkt)).toBeUndefined();
    nowMs += 120_000;
    const later = await proof({ jti: 'reused-later' });
    expect(await verifier.verify(evidence(later), ACCESS_TOKEN, jkt)).toBeUndefined();
  });
});

describe('DPoP failures say which challenge they need (RFC 9449 §7.1)', () => {
  it('a proof that does not prove this request is invalid_dpop_proof; a key or scheme mismatch is invalid_token', async () => {
    const verifier = createDpopVerifier({ now });
    expect(await verifier.verify(evidence(undefined), ACCESS_TOKEN, jkt)).toMatchObject({
      error: 'invalid_dpop_proof',
    });
    expect(
      await verifier.verify(evidence(await proof({ htm: 'GET' })), ACCESS_TOKEN, jkt),
    ).toMatchObject({ error: 'invalid_dpop_proof' });
    const byOther = await proof({ key: other.privateKey, headerJwk: other.jwk });
    expect(await verifier.verify(evidence(byOther), ACCESS_TOKEN, jkt)).toMatchObject({
      error: 'invalid_token',
    });
    expect(
      await verifier.verify(evidence(await proof(), { scheme: 'bearer' }), ACCESS_TOKEN, jkt),
    ).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses repeated DPoP headers and a transport that does not see the request', async () => {
    const verifier = createDpopVerifier({ now });
    const twice = `${await proof()}, ${await proof()}`;
    expect(await verifyMessage(verifier, evidence(twice))).toMatch(/more than one/);
    expect(await verifyMessage(verifier, evidence(await proof(), { request: undefined }))).toMatch(
      /cannot be checked here/,
    );
  });

  it('refuses a hostile authority before it is compared with anything', async () => {
    const verifier = createDpopVerifier({ now });
    const p = await proof({ htu: 'https://api.example.com/v1/tickets/8' });
    const hostile = { ...REQUEST, authority: 'api.example.com/v1/tickets/8?' };
    expect(await verifyMessage(verifier, evidence(p, { request: hostile }))).toMatch(
      /authority is not host\[:port\]/,
    );
  });
});
