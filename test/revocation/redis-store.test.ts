// The Redis store against a real redis-server: propagation between sidecars, outages, restarts that lose Redis's data.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationConfig } from '../../src/config/revocation.js';
import { createRevocationStore } from '../../src/revocation/create-store.js';
import { RevocationStoreError } from '../../src/revocation/errors.js';
import type { RevocationEntry, RevocationStore } from '../../src/revocation/types.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ISSUER } from '../helpers/tokens.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const opened: RevocationStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.stop()));
});

interface Place {
  readonly path: string;
  readonly prefix: string;
}

function newPlace(prefix = `test:${randomUUID()}:`): Place {
  return { path: join(mkdtempSync(join(tmpdir(), 'mandate-rv-')), 'revocations.json'), prefix };
}

async function open(
  place: Place,
  unavailableAtStart: 'degraded' | 'not_ready' = 'not_ready',
): Promise<RevocationStore> {
  const config: RevocationConfig = {
    store: {
      driver: 'redis',
      url: redis.url,
      keyPrefix: place.prefix,
      connectTimeoutMs: 1000,
      unavailableAtStart,
      resyncIntervalSeconds: 0,
      retryMaxDelayMs: 200,
    },
    path: place.path,
    grantClaim: 'grant_id',
    maxTokenLifetimeSeconds: 3600,
    clockSkewSeconds: 60,
    sweepIntervalSeconds: 3600,
    bodyLimitBytes: 8192,
  };
  const { store } = createRevocationStore(config, { issuers: [] });
  await store.start();
  opened.push(store);
  return store;
}

function entry(sub: string): RevocationEntry {
  const now = Date.now();
  return {
    id: `rv_${randomUUID()}`,
    kind: 'subject',
    tenant: 'acme',
    value: sub,
    issuedBeforeMs: now,
    reason: '',
    createdBy: 'token:abcdef01',
    createdAtMs: now,
    expiresAtMs: now + 3_700_000,
  };
}

const token = (sub: string) => ({
  subject: { tenant: 'acme', sub, act: [], issuer: ISSUER },
  claims: { iat: Math.floor(Date.now() / 1000) - 60, exp: Math.floor(Date.now() / 1000) + 600 },
});
const isRevoked = (store: RevocationStore, sub: string) =>
  store.match(token(sub).subject, token(sub).claims) !== undefined;

/** Polls until `check` holds; generous, since other suites may load this 2-core machine. */
async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('redis revocation store', () => {
  it('propagates adds and removes between sidecars sharing one Redis', async () => {
    const place = newPlace();
    const a = await open(place);
    const b = await open(newPlace(place.prefix));
    const e = entry('user-1');
    await a.add(e);
    await eventually(() => isRevoked(b, 'user-1'), 'B denies what A revoked');
    expect(isRevoked(b, 'user-2')).toBe(false);
    await a.remove(e.id);
    await eventually(() => !isRevoked(b, 'user-1'), 'B forgets what A un-revoked');
  });

  it('loses no revocation when Redis is killed and restarts empty', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = await open(newPlace(prefix));
    const b = await open(newPlace(prefix));
    const before = entry('before-outage');
    await a.add(before);
    await eventually(() => isRevoked(b, 'before-outage'), 'B has the first revocation');

    await redis.kill();
    await eventually(() => a.status().state === 'WARN', 'A reports degraded');
    await eventually(() => b.status().state === 'WARN', 'B reports degraded');
    expect(a.status().message).toMatch(/connection lost/);
    // The in-memory index keeps answering.
    expect(isRevoked(a, 'before-outage')).toBe(true);
    expect(isRevoked(b, 'before-outage')).toBe(true);
    // A change that cannot be shared is refused, not half-made.
    const refused = await a.add(entry('during-outage')).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RevocationStoreError);
    expect((refused as RevocationStoreError).code).toBe('store_unavailable');
    expect(isRevoked(a, 'during-outage')).toBe(false);

    await redis.restart(); // same port, no data: Redis lost every entry
    await eventually(() => a.status().state === 'OK', 'A back in sync');
    await eventually(() => b.status().state === 'OK', 'B back in sync');
    expect(isRevoked(a, 'before-outage')).toBe(true);
    expect(isRevoked(b, 'before-outage')).toBe(true);

    // A sidecar that never saw the revocation gets it from Redis: the fleet put it back.
    const c = await open(newPlace(prefix));
    expect(c.status().state).toBe('OK');
    expect(isRevoked(c, 'before-outage')).toBe(true);

    // Pub/sub works again after the reconnect.
    await a.add(entry('after-outage'));
    await eventually(() => isRevoked(b, 'after-outage'), 'B gets a revocation made after');
    await eventually(() => isRevoked(c, 'after-outage'), 'C gets a revocation made after');
  });

  it('serves the snapshot when Redis is down at start, NOT_READY or WARN as configured', async () => {
    const place = newPlace();
    const first = await open(place);
    await first.add(entry('snapshotted'));
    await first.stop();

    await redis.kill();
    try {
      const strict = await open(place);
      expect(strict.status().state).toBe('NOT_READY');
      expect(strict.status().message).toMatch(/not reached since start/);
      expect(isRevoked(strict, 'snapshotted')).toBe(true);
      await strict.stop();

      const lenient = await open(place, 'degraded');
      expect(lenient.status().state).toBe('WARN');
      expect(isRevoked(lenient, 'snapshotted')).toBe(true);
    } finally {
      await redis.restart();
    }
    const lenient = opened[opened.length - 1] as RevocationStore;
    await eventually(() => lenient.status().state === 'OK', 'in sync once Redis is up');
    expect(isRevoked(lenient, 'snapshotted')).toBe(true);
  });

  it('applies deletes made while a sidecar was stopped when it comes back', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = await open(newPlace(prefix));
    const placeB = newPlace(prefix);
    const b = await open(placeB);
    const e = entry('undone-while-away');
    await a.add(e);
    await eventually(() => isRevoked(b, 'undone-while-away'), 'B has it');
    await b.stop();
    await a.remove(e.id);
    // B restarts from a snapshot that still holds the entry; Redis (same epoch) wins.
    const b2 = await open(placeB);
    expect(isRevoked(b2, 'undone-while-away')).toBe(false);
  });
});
