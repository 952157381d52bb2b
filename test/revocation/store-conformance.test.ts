// One conformance suite for every revocation store driver: memory (snapshot file) and Redis (a real redis-server).
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationConfig } from '../../src/config/revocation.js';
import { createRevocationStore } from '../../src/revocation/create-store.js';
import type { RevocationEntry, RevocationStore } from '../../src/revocation/types.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { createClock, ISSUER } from '../helpers/tokens.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const LIFETIME = 3600;
const HORIZON_MS = (LIFETIME + 2 * 30) * 1000;

interface Place {
  readonly path: string;
  readonly prefix: string;
}

function config(driver: 'memory' | 'redis', place: Place): RevocationConfig {
  return {
    store:
      driver === 'memory'
        ? { driver }
        : {
            driver,
            url: redis.url,
            keyPrefix: place.prefix,
            connectTimeoutMs: 3000,
            unavailableAtStart: 'not_ready',
            resyncIntervalSeconds: 0,
            retryMaxDelayMs: 200,
          },
    path: place.path,
    grantClaim: 'grant_id',
    maxTokenLifetimeSeconds: LIFETIME,
    clockSkewSeconds: 60,
    sweepIntervalSeconds: 3600,
    bodyLimitBytes: 8192,
  };
}

const issuers = [
  {
    issuer: ISSUER,
    keys: { kind: 'secret' as const, secret: 'x'.repeat(32) },
    audiences: ['a'],
    algorithms: ['HS256' as const],
    clockToleranceSeconds: 30,
    requiredClaims: [],
  },
];

function newPlace(): Place {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-rv-'));
  return { path: join(dir, 'revocations.json'), prefix: `test:${randomUUID()}:` };
}

const clock = createClock();
const opened: RevocationStore[] = [];

async function open(driver: 'memory' | 'redis', place: Place): Promise<RevocationStore> {
  const { store } = createRevocationStore(config(driver, place), { issuers, now: clock.now });
  await store.start();
  opened.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.stop()));
  clock.set(Date.now());
});

function entry(over: Partial<RevocationEntry> = {}): RevocationEntry {
  const createdAtMs = clock.now();
  return {
    id: `rv_${randomUUID()}`,
    kind: 'subject',
    tenant: 'acme',
    value: 'user-1',
    issuedBeforeMs: createdAtMs,
    reason: 'left the company',
    createdBy: 'token:abcdef01',
    createdAtMs,
    expiresAtMs: createdAtMs + HORIZON_MS,
    ...over,
  };
}

function token(over: { sub?: string; tenant?: string; iat?: number } = {}) {
  const iat = over.iat ?? Math.floor(clock.now() / 1000) - 60;
  return {
    subject: { tenant: over.tenant ?? 'acme', sub: over.sub ?? 'user-1', act: [], issuer: ISSUER },
    claims: { iat, exp: iat + 600, jti: randomUUID() },
  };
}

const revoked = (store: RevocationStore, t: ReturnType<typeof token>) =>
  store.match(t.subject, t.claims);

describe.each(['memory', 'redis'] as const)('revocation store conformance: %s', (driver) => {
  it('starts empty and ready', async () => {
    const store = await open(driver, newPlace());
    expect(store.driver).toBe(driver);
    expect(store.size()).toBe(0);
    expect(store.list()).toEqual([]);
    expect(store.status().state).toBe('OK');
    expect(revoked(store, token())).toBeUndefined();
  });

  it('adds an entry that matches at once, is listed and found by id', async () => {
    const store = await open(driver, newPlace());
    const e = entry();
    await store.add(e);
    expect(revoked(store, token())?.id).toBe(e.id);
    expect(revoked(store, token({ sub: 'user-2' }))).toBeUndefined();
    expect(store.get(e.id)).toEqual(e);
    expect(store.list()).toEqual([e]);
    expect(store.size()).toBe(1);
  });

  it('is idempotent by id', async () => {
    const store = await open(driver, newPlace());
    const e = entry();
    await store.add(e);
    await store.add(e);
    expect(store.size()).toBe(1);
  });

  it('removes an entry (undo) and answers undefined for an unknown id', async () => {
    const store = await open(driver, newPlace());
    const e = entry();
    await store.add(e);
    expect(await store.remove(e.id)).toEqual(e);
    expect(revoked(store, token())).toBeUndefined();
    expect(store.get(e.id)).toBeUndefined();
    expect(await store.remove(e.id)).toBeUndefined();
    expect(await store.remove('rv_nope')).toBeUndefined();
  });

  it('filters the list by tenant and kind, oldest first', async () => {
    const store = await open(driver, newPlace());
    const a = entry({ tenant: 'acme', value: 'u1' });
    const b = entry({ kind: 'client', tenant: 'acme', value: 'c1' });
    const c = entry({ tenant: 'globex', value: 'u1' });
    for (const e of [a, b, c]) await store.add(e);
    expect(store.list().map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    expect(store.list({ tenant: 'acme' }).map((e) => e.id)).toEqual([a.id, b.id]);
    expect(store.list({ kind: 'subject' }).map((e) => e.id)).toEqual([a.id, c.id]);
  });

  it('expires entries once no token they cover can be valid', async () => {
    const store = await open(driver, newPlace());
    const e = entry();
    await store.add(e);
    clock.advance(HORIZON_MS - 1000);
    expect(revoked(store, token({ iat: Math.floor(e.createdAtMs / 1000) - 1 }))?.id).toBe(e.id);
    clock.advance(2000);
    expect(revoked(store, token({ iat: Math.floor(e.createdAtMs / 1000) - 1 }))).toBeUndefined();
    expect(store.get(e.id)).toBeUndefined();
    expect(store.sweep()).toBe(1);
    expect(store.size()).toBe(0);
  });

  it('a restart forgets nothing, and an undo stays undone', async () => {
    const place = newPlace();
    const first = await open(driver, place);
    const kept = entry({ value: 'kept' });
    clock.advance(1);
    const undone = entry({ value: 'undone' });
    clock.advance(1);
    const absolute = entry({ kind: 'actor', tenant: undefined, value: 'bad-agent' });
    delete (absolute as { tenant?: string }).tenant;
    delete (absolute as { issuedBeforeMs?: number }).issuedBeforeMs;
    delete (absolute as { expiresAtMs?: number }).expiresAtMs;
    for (const e of [kept, undone, absolute]) await first.add(e);
    await first.remove(undone.id);
    await first.stop();

    const second = await open(driver, place);
    expect(second.list().map((e) => e.id)).toEqual([kept.id, absolute.id]);
    expect(revoked(second, token({ sub: 'kept' }))?.id).toBe(kept.id);
    expect(revoked(second, token({ sub: 'undone' }))).toBeUndefined();
    expect(second.get(absolute.id)).toEqual(absolute);
  });

  it('a second store on the same place sees the same revocations', async () => {
    const place = newPlace();
    const a = await open(driver, place);
    await a.add(entry());
    const b = await open(driver, place);
    expect(revoked(b, token())).toBeDefined();
  });

  it('tells its listeners of each entry once it is enforced, also one added through another store', async () => {
    const place = newPlace();
    const a = await open(driver, place);
    const heard: { id: string; matched: boolean }[] = [];
    const t = token();
    const unsubscribe = a.onAdded((entries) => {
      for (const e of entries) heard.push({ id: e.id, matched: revoked(a, t) !== undefined });
    });
    const here = entry();
    await a.add(here);
    expect(heard).toEqual([{ id: here.id, matched: true }]);
    if (driver === 'redis') {
      // Another sidecar's revocation reaches this one over pub/sub: its listeners hear of it too.
      const b = await open(driver, place);
      const there = entry({ value: 'user-2' });
      await b.add(there);
      const until = Date.now() + 5000;
      while (!heard.some((h) => h.id === there.id) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(heard.map((h) => h.id)).toEqual([here.id, there.id]);
    }
    unsubscribe();
    await a.add(entry({ value: 'user-3' }));
    expect(heard).toHaveLength(driver === 'redis' ? 2 : 1);
  });
});
