// Remote JWKS behaviour through the verifier: refetch rate limit, single flight, deadlines, outages, rotation, odd keys.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KeySource } from '../../src/config/types.js';
import type { TokenFailure } from '../../src/token/errors.js';
import type { JwksFetchDetail, TokenObserver } from '../../src/token/observer.js';
import type { TokenVerifier, VerifyResult } from '../../src/token/types.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import { collectGarbage } from '../helpers/faulty-server.js';
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

/** The default bucket: 5 refetches a minute, so one token is back after 12 s. */
const TOKEN_MS = 12_000;

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
  it('a sequential flood of 200 random kids costs at most the bucket (5 fetches)', async () => {
    const { server, verifier, sign } = await setup();
    await verifier.start();
    expect(server.requests).toBe(1);
    for (let i = 0; i < 200; i++) {
      expect(codeOf(await verifier.verify(await sign(k1, randomUUID())))).toBe('key_not_found');
    }
    expect(server.requests).toBe(1 + 5);
  });

  it('a concurrent flood shares exactly one fetch', async () => {
    const { server, verifier, sign } = await setup();
    await verifier.start();
    server.setDelay(100);
    const tokens = await Promise.all(Array.from({ length: 200 }, () => sign(k1, randomUUID())));
    const results = await Promise.all(tokens.map((token) => verifier.verify(token)));
    expect(results.every((r) => codeOf(r) === 'key_not_found')).toBe(true);
    expect(server.requests).toBe(2);
  });

  it('one bogus kid every 30 s never delays a real rotation', async () => {
    const { server, clock, verifier, sign } = await setup([k1.jwk]);
    await verifier.start();
    for (let i = 0; i < 10; i++) {
      expect(codeOf(await verifier.verify(await sign(k1, randomUUID())))).toBe('key_not_found');
      clock.advance(30_000);
    }
    // The issuer rotates one second after the last bogus kid: the new key works at once.
    clock.advance(1000);
    server.setKeys([k1.jwk, k2.jwk]);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('ok');
  });

  it('an empty bucket refills: one more fetch per 12 s', async () => {
    const { server, clock, verifier, sign } = await setup();
    await verifier.start();
    for (let i = 0; i < 5; i++) await verifier.verify(await sign(k1, randomUUID()));
    expect(server.requests).toBe(6);
    server.setKeys([k1.jwk, k2.jwk]);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('key_not_found');
    expect(server.requests).toBe(6);
    clock.advance(TOKEN_MS);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('ok');
    expect(server.requests).toBe(7);
  });

  it('refetch_per_minute 0: unknown kids never fetch', async () => {
    const { server, verifier, sign } = await setup([k1.jwk], { refetchPerMinute: 0 });
    await verifier.start();
    server.setKeys([k1.jwk, k2.jwk]);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('key_not_found');
    expect(server.requests).toBe(1);
  });

  it('a known kid asked for another algorithm does not trigger a fetch', async () => {
    const { server, verifier } = await setup();
    await verifier.start();
    // An ES256 token that names the RSA key's kid.
    const token = await signToken(k2, { nowMs: Date.now(), header: { kid: k1.kid } });
    expect(codeOf(await verifier.verify(token))).toBe('key_not_found');
    expect(server.requests).toBe(1);
  });
});

describe('key rotation', () => {
  it('a new kid verifies after refetch; the old one until it is removed and the set refreshed', async () => {
    const { server, verifier, sign } = await setup([k1.jwk]);
    await verifier.start();

    server.setKeys([k1.jwk, k2.jwk]);
    expect(codeOf(await verifier.verify(await sign(k2)))).toBe('ok');
    expect(server.requests).toBe(2);
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');

    server.setKeys([k2.jwk]);
    // Any unknown kid (here: a random one) refreshes the set.
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
      jwksFetch: (_: string, d: JwksFetchDetail) => fetches.push(d.result),
    };
    const { server, verifier, sign } = await setup([k1.jwk], {}, observer);
    await verifier.start();
    expect(verifier.status().state).toBe('OK');

    server.setFailure(500);
    expect(codeOf(await verifier.verify(await sign(k1, 'rotated-away')))).toBe('key_not_found');
    expect(server.requests).toBe(2);
    expect(fetches).toEqual(['ok', 'error']);

    const status = verifier.status();
    expect(status.state).toBe('WARN');
    expect(status.message).toContain('HTTP 500');
    expect(codeOf(await verifier.verify(await sign(k1)))).toBe('ok');

    server.setFailure(undefined);
    await verifier.verify(await sign(k1, 'another-unknown'));
    expect(verifier.status().state).toBe('OK');
  });

  it('never fetched: start does not throw, NOT_READY, jwks_unavailable; retries on its own until keys load', async () => {
    const { server, verifier, sign } = await setup([k1.jwk], { refetchPerMinute: 0 });
    server.setFailure(503);
    await expect(verifier.start()).resolves.toBeUndefined();
    expect(verifier.status().state).toBe('NOT_READY');
    expect(issuerState(verifier)).toBe('NOT_READY');
    expect(verifier.status().message).toContain('HTTP 503');

    const token = await sign(k1);
    expect(codeOf(await verifier.verify(token))).toBe('jwks_unavailable');
    // Retried after 0.5 s, 1 s, 2 s (±25 %): no token needed, no 300 s background refresh wait.
    await vi.waitFor(() => expect(server.requests).toBeGreaterThanOrEqual(3), { timeout: 4000 });
    server.setFailure(undefined);
    await vi.waitFor(() => expect(verifier.status().state).toBe('OK'), { timeout: 6000 });
    expect(codeOf(await verifier.verify(token))).toBe('ok');
    const settled = server.requests;
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.requests).toBe(settled); // no more retries once loaded
  });

  it('an endpoint that hangs times out after timeoutMs', async () => {
    const { server, verifier } = await setup([k1.jwk], { timeoutMs: 100 });
    server.setHang(true);
    const started = Date.now();
    await verifier.start();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(verifier.status()).toMatchObject({ state: 'NOT_READY' });
    expect(verifier.status().message).toContain('timed out');
  });

  it('a hanging endpoint with garbage collections meanwhile: every fetch still ends at its deadline', async () => {
    const { server, verifier, sign } = await setup([k1.jwk], { timeoutMs: 300 });
    await verifier.start();
    server.setHang(true);
    const gc = setInterval(() => void collectGarbage(), 40);
    try {
      for (let round = 0; round < 3; round++) {
        const started = Date.now();
        // An unknown kid waits for the (hanging) refetch, then is refused within the deadline.
        expect(codeOf(await verifier.verify(await sign(k1, randomUUID())))).toBe('key_not_found');
        expect(Date.now() - started).toBeLessThan(1500);
      }
      // The stuck fetches freed the single flight: once the issuer answers, a rotation lands.
      server.setHang(false);
      server.setKeys([k1.jwk, k2.jwk]);
      expect(codeOf(await verifier.verify(await sign(k2)))).toBe('ok');
    } finally {
      clearInterval(gc);
    }
  });

  it('stop() does not wait for a hanging fetch', async () => {
    const { server, verifier, sign } = await setup([k1.jwk], { timeoutMs: 30_000 });
    await verifier.start();
    server.setHang(true);
    const pending = verifier.verify(await sign(k1, randomUUID()));
    await vi.waitFor(() => expect(server.requests).toBe(2));
    const started = Date.now();
    await verifier.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(codeOf(await pending)).toBe('key_not_found');
  });

  it('a body that is not a JWK Set leaves the previous keys in place', async () => {
    const { server, verifier, sign } = await setup([k1.jwk]);
    await verifier.start();
    for (const body of ['<html>', '{"keys":"nope"}', '{"keys":[]}']) {
      server.setRawBody(body);
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
