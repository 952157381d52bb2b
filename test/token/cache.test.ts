// The verified-token cache: hits are marked, bounded, and never outlive the token's exp.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuerConfig, TokenConfig } from '../../src/config/types.js';
import type { TokenFailure } from '../../src/token/errors.js';
import type { VerifyResult } from '../../src/token/types.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import {
  createClock,
  createTestKey,
  issuerConfig,
  signToken,
  type TestKey,
} from '../helpers/tokens.js';

let key: TestKey;
let dir: string;
let issuer: IssuerConfig;

beforeAll(async () => {
  key = await createTestKey('ES256', 'cache-key');
  dir = await mkdtemp(join(tmpdir(), 'mandate-cache-'));
  const path = join(dir, 'jwks.json');
  await writeFile(path, JSON.stringify({ keys: [key.jwk] }));
  issuer = issuerConfig({ kind: 'jwks_file', path });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function setup(token: Partial<TokenConfig> = {}, overrides: Partial<IssuerConfig> = {}) {
  const clock = createClock(1_700_000_000_000);
  const counts = { hit: 0, miss: 0 };
  const verifier = createTokenVerifier({
    issuers: [{ ...issuer, ...overrides }],
    token: { maxTokenBytes: 16_384, cacheMaxEntries: 100, ...token },
    now: clock.now,
    observer: {
      cacheHit: () => counts.hit++,
      cacheMiss: () => counts.miss++,
      jwksFetch: () => {},
    },
  });
  await verifier.start();
  return { clock, counts, verifier };
}

const codeOf = (r: VerifyResult) => (r.ok ? 'ok' : (r as TokenFailure).code);

describe('verified-token cache', () => {
  it('serves the second verification from the cache, marked cached', async () => {
    const { clock, counts, verifier } = await setup();
    const token = await signToken(key, { nowMs: clock.now() });
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(first).toMatchObject({ ok: true, cached: false });
    expect(second).toMatchObject({ ok: true, cached: true });
    if (!first.ok || !second.ok) return;
    expect(second.claims).toEqual(first.claims);
    expect(second.tokenHash).toBe(first.tokenHash);
    expect(counts).toEqual({ hit: 1, miss: 1 });
  });

  it('never serves an entry at or after exp (no clock tolerance)', async () => {
    const { clock, verifier } = await setup({}, { clockToleranceSeconds: 0 });
    const nowS = Math.floor(clock.now() / 1000);
    const token = await signToken(key, { claims: { iat: nowS, exp: nowS + 60 } });
    expect(await verifier.verify(token)).toMatchObject({ ok: true, cached: false });

    clock.set((nowS + 60) * 1000 - 1);
    expect(await verifier.verify(token)).toMatchObject({ ok: true, cached: true });
    clock.set((nowS + 60) * 1000);
    expect(codeOf(await verifier.verify(token))).toBe('token_expired');
  });

  it('past exp but within clock tolerance: re-verified, not served from cache, not re-cached', async () => {
    const { clock, counts, verifier } = await setup({}, { clockToleranceSeconds: 30 });
    const nowS = Math.floor(clock.now() / 1000);
    const token = await signToken(key, { claims: { iat: nowS, exp: nowS + 60 } });
    await verifier.verify(token);

    clock.set((nowS + 70) * 1000);
    expect(await verifier.verify(token)).toMatchObject({ ok: true, cached: false });
    expect(await verifier.verify(token)).toMatchObject({ ok: true, cached: false });
    expect(counts.hit).toBe(0);
    clock.set((nowS + 91) * 1000);
    expect(codeOf(await verifier.verify(token))).toBe('token_expired');
  });

  it('does not cache failures', async () => {
    const { clock, counts, verifier } = await setup();
    const token = await signToken(key, { nowMs: clock.now(), claims: { aud: 'someone-else' } });
    expect(codeOf(await verifier.verify(token))).toBe('audience_mismatch');
    expect(codeOf(await verifier.verify(token))).toBe('audience_mismatch');
    expect(counts).toEqual({ hit: 0, miss: 2 });
  });

  it('is bounded: the least recently used entry is evicted', async () => {
    const { clock, verifier } = await setup({ cacheMaxEntries: 2 });
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map(() => signToken(key, { nowMs: clock.now() })),
    );
    for (const token of [a, b, c]) await verifier.verify(token!);
    expect(await verifier.verify(c!)).toMatchObject({ cached: true });
    expect(await verifier.verify(a!)).toMatchObject({ cached: false });
  });

  it('cacheMaxEntries 0 disables the cache and its metrics', async () => {
    const { clock, counts, verifier } = await setup({ cacheMaxEntries: 0 });
    const token = await signToken(key, { nowMs: clock.now() });
    expect(await verifier.verify(token)).toMatchObject({ ok: true, cached: false });
    expect(await verifier.verify(token)).toMatchObject({ ok: true, cached: false });
    expect(counts).toEqual({ hit: 0, miss: 0 });
  });

  it('hands out frozen claims, so a caller cannot corrupt a cached entry', async () => {
    const { clock, verifier } = await setup();
    const token = await signToken(key, { nowMs: clock.now(), claims: { act: { sub: 'agent' } } });
    const result = await verifier.verify(token);
    if (!result.ok) throw new Error('expected ok');
    expect(() => {
      (result.claims.act as Record<string, unknown>).sub = 'someone-else';
    }).toThrow(TypeError);
  });
});
