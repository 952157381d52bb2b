// A sidecar process (under GC pressure) against a JWKS endpoint that fails every way: 503, hang, garbage, empty set, then recovers rotated.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  POLICY_CACHE_DIR,
  isReady,
  killSidecarProcesses,
  startChildSidecar,
  timedCheck,
  type ChildSidecar,
} from '../helpers/sidecar-process.js';
import { startFaultyServer, type FaultyServer } from '../helpers/faulty-server.js';
import { POLICIES_DIR } from '../helpers/sidecar.js';
import { AUDIENCE, ISSUER, createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

/** Per-fetch deadline given to the sidecar: every check must be answered well within a few of these. */
const JWKS_TIMEOUT_MS = 500;

let k1: TestKey;
let k2: TestKey;
let published: TestKey[] = [];
let jwks: FaultyServer;
const sidecars: ChildSidecar[] = [];

function serveJwks(_req: IncomingMessage, res: ServerResponse) {
  res
    .writeHead(200, { 'content-type': 'application/jwk-set+json' })
    .end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
}

beforeAll(async () => {
  [k1, k2] = await Promise.all([createTestKey('ES256', 'k1'), createTestKey('ES256', 'k2')]);
});

afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.stop('SIGKILL');
  await jwks?.close();
});

afterAll(() => killSidecarProcesses());

async function start(extra = ''): Promise<ChildSidecar> {
  const sidecar = await startChildSidecar(`
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}/jwks.json"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
    jwks_timeout_ms: ${JWKS_TIMEOUT_MS}
    ${extra}
policies: { dir: "${POLICIES_DIR}", cache_dir: "${POLICY_CACHE_DIR}" }
audit: { sink: none }
`);
  sidecars.push(sidecar);
  return sidecar;
}

const tokenOf = (key: TestKey) =>
  signToken(key, { claims: { tenant: 'acme_inc', scope: 'contacts.read tickets.write' } });

const warnings = (sidecar: ChildSidecar) =>
  sidecar.logs().filter((r) => r['level'] === 40 && String(r['msg']).startsWith('JWKS fetch'));

describe('JWKS outages', { timeout: 240_000 }, () => {
  it('a start-time outage: serving at once, not ready, WARN naming the issuer; ready within seconds of recovery', async () => {
    published = [k1];
    jwks = await startFaultyServer(serveJwks, { kind: 'status', status: 503 });
    const sidecar = await start();
    expect(await isReady(sidecar)).toBe(false);
    const denied = await timedCheck(sidecar, await tokenOf(k1));
    expect(denied.codes).toEqual(['jwks_unavailable']);
    expect(warnings(sidecar)[0]).toMatchObject({ issuer: ISSUER, error: 'HTTP 503' });

    // Start-up keeps retrying on its own (0.5 s, 1 s, 2 s…), long before the 300 s refresh.
    await vi.waitFor(() => expect(jwks.requests).toBeGreaterThanOrEqual(3), { timeout: 8000 });
    jwks.set({ kind: 'serve' });
    const recovered = Date.now();
    await vi.waitFor(async () => expect(await isReady(sidecar)).toBe(true), {
      timeout: 10_000,
      interval: 100,
    });
    expect(Date.now() - recovered).toBeLessThan(9000);
    expect((await timedCheck(sidecar, await tokenOf(k1))).body['allow']).toBe(true);
    expect(sidecar.logs().find((r) => r['msg'] === 'JWKS keys loaded')).toMatchObject({
      issuer: ISSUER,
      keys: 1,
    });
  });

  it('503, hang, garbage, empty set: every unknown kid is denied within the deadline, known keys keep working; the rotated key is picked up on recovery', async () => {
    published = [k1];
    jwks = await startFaultyServer(serveJwks);
    const sidecar = await start('jwks_refetch_per_minute: 20');
    expect(await isReady(sidecar)).toBe(true);
    const known = await tokenOf(k1);
    const rotated = await tokenOf(k2);

    const faults = [
      { kind: 'status', status: 503 },
      { kind: 'hang' },
      { kind: 'body', body: '<html>not a key set' },
      { kind: 'body', body: '{"keys":[]}' },
    ] as const;
    for (const fault of faults) {
      jwks.set(fault);
      for (let i = 0; i < 3; i++) {
        const unknownKid = await timedCheck(sidecar, rotated);
        expect(unknownKid.codes, JSON.stringify(fault)).toEqual(['key_not_found']);
        expect(unknownKid.ms, JSON.stringify(fault)).toBeLessThan(JWKS_TIMEOUT_MS + 1500);
        const ok = await timedCheck(sidecar, known);
        expect(ok.body['allow'], JSON.stringify(fault)).toBe(true);
      }
    }
    expect(await isReady(sidecar)).toBe(true); // WARN: serving the last good keys

    published = [k1, k2];
    jwks.set({ kind: 'serve' });
    const after = await timedCheck(sidecar, rotated);
    expect(after.body['allow']).toBe(true);
    expect(after.ms).toBeLessThan(JWKS_TIMEOUT_MS + 1500);
  });

  it('SIGTERM while a JWKS fetch hangs: exit 0, promptly', async () => {
    published = [k1];
    jwks = await startFaultyServer(serveJwks);
    const sidecar = await startChildSidecar(`
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}/jwks.json"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    jwks_timeout_ms: 60000
policies: { dir: "${POLICIES_DIR}", cache_dir: "${POLICY_CACHE_DIR}" }
audit: { sink: none }
`);
    sidecars.push(sidecar);
    jwks.set({ kind: 'hang' });
    const pending = timedCheck(sidecar, await tokenOf(k2)).catch(() => undefined);
    await vi.waitFor(() => expect(jwks.hanging).toBe(1), { timeout: 10_000 });
    const { code, ms } = await sidecar.stop('SIGTERM');
    expect(code, JSON.stringify(sidecar.logs().slice(-5))).toBe(0);
    expect(ms).toBeLessThan(5000);
    await pending;
  });

  it('SIGTERM during a start-time outage with a hanging issuer: exit 0, promptly', async () => {
    published = [k1];
    jwks = await startFaultyServer(serveJwks, { kind: 'hang' });
    const sidecar = await start();
    expect(await isReady(sidecar)).toBe(false);
    await vi.waitFor(() => expect(jwks.requests).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    const { code, ms } = await sidecar.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
  });
});
