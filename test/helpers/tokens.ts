// Shared token fixtures for every suite: real keys from jose, a token signer, and issuer configs.
import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
} from 'jose';
import type { IssuerConfig, KeySource, TokenConfig } from '../../src/config/types.js';
import { recordCredential } from './credential-scan.js';

export const ISSUER = 'https://issuer.example';
export const AUDIENCE = 'orders-api';
export const RFC9068_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];

export interface TestKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256' | 'PS256' | 'RS512';
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** Public JWK with kid, as an IdP would publish it. */
  readonly jwk: JWK;
}

export async function createTestKey(
  alg: TestKey['alg'],
  kid: string = randomUUID(),
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export interface SignOptions {
  /** Claims merged over the defaults; a value of undefined removes the claim. */
  readonly claims?: Record<string, unknown>;
  /** Header members merged over `{ alg, kid, typ: 'at+jwt' }`; undefined removes one. */
  readonly header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  /** Clock for iat/exp defaults, epoch ms. */
  readonly nowMs?: number;
}

/** Signs an RFC 9068-shaped access token valid for 10 minutes from `nowMs`. */
export async function signToken(key: TestKey, options: SignOptions = {}): Promise<string> {
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const claims = prune({
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    iat: now,
    exp: now + 600,
    jti: randomUUID(),
    client_id: 'agent-1',
    scope: 'orders.read',
    tenant: 'acme',
    ...options.claims,
  });
  const header = prune({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...options.header });
  const token = await new SignJWT(claims)
    .setProtectedHeader(header as JWTHeaderParameters)
    .sign(key.privateKey);
  // Every token a test sends is one no audit output may hold (see credential-scan.ts).
  recordCredential(token, `a test token (sub ${String(claims['sub'])})`);
  return token;
}

/** base64url of JSON, for hand-crafted tokens. */
export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function issuerConfig(keys: KeySource, overrides: Partial<IssuerConfig> = {}): IssuerConfig {
  return {
    issuer: ISSUER,
    keys,
    audiences: [AUDIENCE],
    algorithms: ['RS256', 'ES256'],
    tokenTypes: ['at+jwt'],
    clockToleranceSeconds: 30,
    requiredClaims: RFC9068_CLAIMS,
    ...overrides,
  };
}

export function remoteSource(
  uri: string,
  overrides: Partial<Extract<KeySource, { kind: 'jwks_uri' }>> = {},
): KeySource {
  return {
    kind: 'jwks_uri',
    uri,
    refreshSeconds: 300,
    refetchPerMinute: 5,
    timeoutMs: 2000,
    ...overrides,
  };
}

export const TOKEN_CONFIG: TokenConfig = { maxTokenBytes: 16_384, cacheMaxEntries: 1000 };

/** A test clock: a fixed instant that tests move by hand. */
export function createClock(startMs: number = Date.now()): {
  now: () => number;
  advance(ms: number): void;
  set(ms: number): void;
} {
  let current = startMs;
  return {
    now: () => current,
    advance(ms) {
      current += ms;
    },
    set(ms) {
      current = ms;
    },
  };
}

function prune(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
