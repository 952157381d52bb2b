// Every acknowledged revocation survives a SIGKILLed sidecar: restarted while Redis is down, or with a Redis that lost everything.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import {
  checkOutcome,
  revokeOn,
  startSidecarProcess,
  writeProcessConfig,
  type SidecarProcess,
} from '../helpers/sidecar-process.js';
import { createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

let key: TestKey;
let jwks: JwksServer;
let redis: RedisServer;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  key = await createTestKey('ES256');
  jwks = await startJwksServer([key.jwk]);
  redis = await startRedisServer();
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.kill('SIGKILL')));
  await redis?.stop();
  await jwks?.close();
});

const CHECK = { action: 'tickets.comment', tenant: 'acme_inc' };
const token = (sub: string) =>
  signToken(key, { claims: { sub, tenant: 'acme_inc', scope: 'tickets.write' } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-fault-rv-'));
  return writeProcessConfig(
    dir,
    jwks.url,
    `revocation:
  store: redis
  path: "${dir}/revocations.json"
  redis: { url: "${redis.url}", key_prefix: "${prefix}", connect_timeout_ms: 500, unavailable_at_start: degraded, retry_max_delay_ms: 200 }
`,
  );
}

async function start(configPath: string): Promise<SidecarProcess> {
  const s = await startSidecarProcess(configPath);
  running.push(s);
  return s;
}

async function revokeAll(on: SidecarProcess, subs: readonly string[]): Promise<void> {
  for (const sub of subs) {
    const res = await revokeOn(on, { kind: 'subject', tenant: 'acme_inc', sub });
    expect(res.status).toBe(201);
  }
}

/** Tokens issued now, before the revocations (a subject revocation cuts off tokens issued before it). */
const tokens = new Map<string, string>();
async function outcomes(on: SidecarProcess, subs: readonly string[]): Promise<string[]> {
  return Promise.all(
    subs.map(async (sub) => {
      let t = tokens.get(sub);
      if (t === undefined) {
        t = await token(sub);
        tokens.set(sub, t);
      }
      return (await checkOutcome(on, t, CHECK)).outcome;
    }),
  );
}

// Sidecar processes compile their policies at every start: generous limits.
describe('revocation durability across crashes', { timeout: 240_000 }, () => {
  it('a sidecar SIGKILLed after Redis died, restarted while Redis is still down, enforces every acknowledged revocation', async () => {
    const cfg = config('fault-a:');
    const first = await start(cfg);
    const subs = Array.from({ length: 11 }, (_v, i) => `user-a-${i}`);
    expect(await outcomes(first, subs)).toEqual(subs.map(() => 'allow'));
    await revokeAll(first, subs);
    await redis.kill();
    await sleep(1000);
    await first.kill('SIGKILL');

    const second = await start(cfg);
    try {
      expect(await outcomes(second, subs)).toEqual(subs.map(() => 'revoked'));
    } finally {
      await second.kill('SIGKILL');
      await redis.restart();
    }
  });

  it('a sidecar and a Redis without persistence that both crash right after a 201 come back denying, and Redis gets the entry back', async () => {
    const prefix = 'fault-b:';
    const cfg = config(prefix);
    const first = await start(cfg);
    const subs = ['user-b-0', 'user-b-1', 'user-b-2'];
    expect(await outcomes(first, subs)).toEqual(subs.map(() => 'allow'));
    await revokeAll(first, subs);
    // Both crash at once, well inside the old snapshot delay.
    await Promise.all([first.kill('SIGKILL'), redis.kill()]);
    await redis.restart();

    const second = await start(cfg);
    const client = new Redis(redis.url);
    try {
      expect(await outcomes(second, subs)).toEqual(subs.map(() => 'revoked'));
      // The restarted sidecar put its entries back into the empty Redis, for the rest of the fleet.
      const deadline = Date.now() + 10_000;
      let keys: string[] = [];
      while (keys.length < subs.length && Date.now() < deadline) {
        keys = await client.keys(`${prefix}e:*`);
        if (keys.length < subs.length) await sleep(50);
      }
      expect(keys).toHaveLength(subs.length);
    } finally {
      client.disconnect();
      await second.kill('SIGKILL');
    }
  });
});
