// Remote JWKS behaviour through the verifier: cool-down, single flight, outages, rotation, odd keys.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KeySource } from '../../src/config/types.js';
import type { TokenFailure } from '../../src/token/errors.js';
import type { TokenObserver } from '../../src/token/observer.js';
import type { TokenVerifier, VerifyResult } from '../../src/token/types.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import { startJwksServer } from '../helpers/jwks-server.js';
import {
  ISSUER,
  TOKEN_CONFIG,
  createClock,
  createTestKey,
  issuerConfig,
  remoteSource,
  signToken,
  type TestKey,
} from '../helpers/tokens.js';

const COOLDOWN_MS = 30_000;

let k1: TestKey;
let k2: TestKey;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [k1, k2] = await Promise.all([createTestKey('RS256', 'k1'), createTestKey('ES256', 'k2')]);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  keys = [k1.jwk],
  source: Partial<Extract<KeySource, { kind: 'jwks_uri' }>> = {},
  observer?: TokenObserver,
) {
  const server = await startJwksServer(keys);
  const clock = createClock();
  const verifier = createTokenVerifier({
    issuers: [issuerConfig(remoteSource(server.url, source))],
    token: TOKEN_CONFIG,
    now: clock.now,
    ...(observer ? { observer } : {}),
  });
  cleanups.push(
    () => server.close(),
    () => verifier.stop(),
  );
  const sign = (key: TestKey, kid: string = key.kid) =>
    signToken(key, { nowMs: clock.now(), header: { kid } });
  return { server, clock, verifier, sign };
}

function codeOf(result: VerifyResult): string {
  return result.ok ? 'ok' : (result as TokenFailure).code;
}

function issuerState(verifier: TokenVerifier): unknown {
  return (verifier.status().detail as { issuers: Record<string, { state: string }> }).issuers[
    ISSUER
  ]?.state;
}

describe('unknown kid', () => {
  it('a flood of 200 random kids within the cool-down causes no extra fetch', async () => {
    const { server, verifier, sign } = await setup();
    await verifier.start();
    expect(server.requests).toBe(1);
    const tokens = await Promise.all(Array.from({ length: 200 }, () => sign(k1, randomUUID())));
    const results = await Promise.all(tokens.map((token) => verifier.verify(token)));
    expect(new Set(results.map(codeOf))).toEqual(new Set(['key_not_found']));
    expect(server.requests).toBe(1);
  });

  it('after the cool-down, a concurrent flood shares exactly one fetch, then waits again', async () => {
    const { server, clock, verifier, sign } = await setup();
    await verifier.start();
    server.setDelay(100);
    clock.advance(COOLDOWN_MS);
    const tokens = await Promise.all(Array.from({ length: 200 }, () => sign(k1, randomUUID())));
    const results = await Promise.all(tokens.map((token) => verifier.verify(token)));
    expect(results.every((r) => codeOf(r) === 'key_not_found')).toBe(true);
    expect(server.requests).toBe(2);
    for (const token of tokens.slice(0, 20)) await verifier.verify(token);
    expect(server.requests).toBe(2);
  });

  it('a known kid asked for another algorithm does not trigger a fetch', async () => {
    const { server, clock, verifier } = await setup();
    await verifier.start();
    clock.advance(COOLDOWN_MS);
    // An ES256 token that names the RSA key's kid.
    const token = await signToken(k2, { nowMs: clock.now(), header: { kid: k1.kid } });
    expect(codeOf(await verifier.verify(token))).toBe('key_not_found');
    expect(server.requests).toBe(1);
  });
});

describe('key rotation', () => {
  it('a new kid verifies after refetch; the old one until it is removed and the set refreshed', async () => {
    const { server, clock, verifier, sign } = await setup([k1.jwk]);
    await verifier.start();

    server.setKeys([k1.jwk, k2.jwk]);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('key_not_found'); // within the cool-down
    clock.advance(COOLDOWN_MS);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('ok');
    expect(server.requests).toBe(2);
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');

    server.setKeys([k2.jwk]);
    clock.advance(COOLDOWN_MS);
    // Any unknown kid (here: a random one) refreshes the set once the cool-down has passed.
    expect(codeOf(await verifier.verify(await sign(k2, randomUUID())))).toBe('key_not_found');
    expect(server.requests).toBe(3);
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('key_not_found');
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('ok');
  });

  it('the background refresh picks up removals on its own', async () => {
    const { server, verifier, sign } = await setup([k1.jwk, k2.jwk], { refreshSeconds: 1 });
    await verifier.start();
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');
    server.setKeys([k2.jwk]);
    await vi.waitFor(() => expect(server.requests).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    await vi.waitFor(async () =>
      expect(codeOf(await verifier.verify(await sign(k1)))).toBe('key_not_found'),
    );
  });
});

describe('outages', () => {
  it('keeps verifying with the last good keys when the endpoint fails, and reports WARN', async () => {
    const fetches: string[] = [];
    const observer = {
      cacheHit() {},
      cacheMiss() {},
      jwksFetch: (_: string, r: string) => fetches.push(r),
    };
    const { server, clock, verifier, sign } = await setup([k1.jwk], {}, observer);
    await verifier.start();
    expect(verifier.status().state).toBe('OK');

    server.setFailure(500);
    clock.advance(COOLDOWN_MS);
    expect(codeOf(await verifier.verify(await sign(k1, 'rotated-away')))).toBe('key_not_found');
    expect(server.requests).toBe(2);
    expect(fetches).toEqual(['ok', 'error']);

    const status = verifier.status();
    expect(status.state).toBe('WARN');
    expect(status.message).toContain('HTTP 500');
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');

    server.setFailure(undefined);
    clock.advance(COOLDOWN_MS);
    await verifier.verify(await sign(k1, 'another-unknown'));
    expect(verifier.status().state).toBe('OK');
  });

  it('never fetched: start does not throw, NOT_READY, jwks_unavailable; retries after the cool-down', async () => {
    const { server, clock, verifier, sign } = await setup([k1.jwk]);
    server.setFailure(503);
    await expect(verifier.start()).resolves.toBeUndefined();
    expect(verifier.status().state).toBe('NOT_READY');
    expect(issuerState(verifier)).toBe('NOT_READY');
    expect(verifier.status().message).toContain('HTTP 503');

    const token = await sign(k1);
    expect(codeOf(await verifier.verify(token))).toBe('jwks_unavailable');
    server.setFailure(undefined);
    expect(codeOf(await verifier.verify(token))).toBe('jwks_unavailable'); // cool-down
    expect(server.requests).toBe(1);

    clock.advance(COOLDOWN_MS);
    expect(codeOf(await verifier.verify(token))).toBe('ok');
    expect(server.requests).toBe(2);
    expect(verifier.status().state).toBe('OK');
  });

  it('an endpoint that hangs times out after timeoutMs', async () => {
    const { server, verifier } = await setup([k1.jwk], { timeoutMs: 100 });
    server.setDelay(5000);
    const started = Date.now();
    await verifier.start();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(verifier.status()).toMatchObject({ state: 'NOT_READY' });
    expect(verifier.status().message).toContain('timed out');
  });

  it('a body that is not a JWK Set leaves the previous keys in place', async () => {
    const { server, clock, verifier, sign } = await setup([k1.jwk]);
    await verifier.start();
    for (const body of ['<html>', '{"keys":"nope"}', '{"keys":[]}']) {
      server.setRawBody(body);
      clock.advance(COOLDOWN_MS);
      await verifier.verify(await sign(k1, randomUUID()));
      expect(verifier.status().state).toBe('WARN');
      expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');
    }
  });
});

describe('odd key sets', () => {
  it('skips keys that cannot be used and serves the rest', async () => {
    const broken = [
      { kty: 'RSA', kid: 'bad-rsa', n: '!!', e: 'AQAB' },
      { ...k2.jwk, kid: 'enc-key', use: 'enc' },
      { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' },
      { ...k2.jwk, kid: 'verify-less', key_ops: ['encrypt'] },
      { kty: 'EC', kid: 'weird-curve', crv: 'P-999', x: 'AA', y: 'AA' },
      'not even an object',
    ];
    const { verifier, sign } = await setup([...broken, k1.jwk] as never);
    await verifier.start();
    expect(verifier.status().state).toBe('OK');
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');
    expect(codeOf(await verifier.verify(await sign(k2, 'enc-key')))).toBe('key_not_found');
  });

  it('a token without kid uses the only key for its algorithm', async () => {
    const kidless = { ...k1.jwk, kid: undefined };
    const { verifier, clock } = await setup([kidless, k2.jwk]);
    await verifier.start();
    const token = await signToken(k1, { nowMs: clock.now(), header: { kid: undefined } });
    expect(codeOf(await verifier.verify(token))).toBe('ok');
  });

  it('a token without kid is refused when two keys could match', async () => {
    const other = await createTestKey('RS256', 'k3');
    const { verifier, clock } = await setup([k1.jwk, other.jwk]);
    await verifier.start();
    const token = await signToken(k1, { nowMs: clock.now(), header: { kid: undefined } });
    expect(codeOf(await verifier.verify(token))).toBe('key_not_found');
  });

  it('an RSA key shorter than 2048 bits is skipped', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'jwk',
    });
    const { verifier, sign } = await setup([{ ...weak, kid: 'weak' } as JWK, k1.jwk]);
    await verifier.start();
    // The signature does not matter: no key named "weak" may exist at all.
    expect(codeOf(await verifier.verify(await sign(k1, 'weak')))).toBe('key_not_found');
  });
});

describe('status', () => {
  it('aggregates per-issuer state in detail', async () => {
    const a = await startJwksServer([k1.jwk]);
    const b = await startJwksServer([k2.jwk]);
    b.setFailure(500);
    const verifier = createTokenVerifier({
      issuers: [
        issuerConfig(remoteSource(a.url)),
        issuerConfig(remoteSource(b.url), { issuer: 'https://second.example' }),
      ],
      token: TOKEN_CONFIG,
    });
    cleanups.push(
      () => a.close(),
      () => b.close(),
      () => verifier.stop(),
    );
    await verifier.start();
    const status = verifier.status();
    expect(status.state).toBe('NOT_READY');
    expect(status.detail).toEqual({
      issuers: {
        [ISSUER]: { state: 'OK', message: expect.any(String) },
        'https://second.example': {
          state: 'NOT_READY',
          message: expect.stringContaining('HTTP 500'),
        },
      },
    });
  });
});
