// A start-up that fails half-way (a late listener's port taken, a broken policy) leaves nothing running: no listener, no Redis connection, no timer.
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/compose/server.js';
import { parseConfig } from '../../src/config/load.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { POLICIES_DIR } from '../helpers/sidecar.js';
import { AUDIENCE, ISSUER, createTestKey } from '../helpers/tokens.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');

let redis: RedisServer;
let probe: Redis;
let jwks: JwksServer;
/** A port held by another listener for the whole file. */
let taken: Server;
let takenPort: number;

beforeAll(async () => {
  redis = await startRedisServer();
  probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await probe.connect();
  jwks = await startJwksServer([(await createTestKey('ES256')).jwk]);
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => taken?.close(resolve));
  await jwks?.close();
  probe?.disconnect();
  await redis?.stop();
});

/** Clients connected to Redis other than this file's probe. */
async function redisClients(): Promise<number> {
  const own = await probe.client('ID');
  const list = (await probe.client('LIST')) as string;
  return list.split('\n').filter((line) => line.startsWith('id=') && !line.startsWith(`id=${own} `))
    .length;
}

/** What keeps the event loop alive, by kind (listeners, sockets, timers). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

interface Variant {
  readonly listen?: string;
  readonly policiesDir?: string;
}

/** A config with the Redis revocation store, the file audit sink in `dir`, and `yaml`'s changes. */
function configText(yaml: Variant, dir: string): string {
  return `
listen: ${yaml.listen ?? '{ http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }'}
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
policies: { dir: "${yaml.policiesDir ?? POLICIES_DIR}" }
audit: { sink: file, path: "${join(dir, 'audit.jsonl')}" }
admin: { tokens: ["startup-admin-token-0123456789abcdef0123"] }
revocation: { store: redis, redis: { url: "${redis.url}", connect_timeout_ms: 3000, resync_interval_seconds: 1 } }
`;
}

function config(yaml: Variant) {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-startup-'));
  return parseConfig(configText(yaml, dir), { baseDir: dir });
}

/** The shipped policies plus a base module that does not compile. */
function brokenPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-bad-policy-'));
  cpSync(POLICIES_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'base', 'broken.rego'), 'package mandate.base\n\nallow if {\n');
  return dir;
}

/**
 * Starts with `cfg`, expects the start to reject with `message`, then checks that the listener
 * count, the timers and the Redis connections are back where they were before.
 */
async function expectCleanFailure(cfg: ReturnType<typeof config>, message: RegExp) {
  const before = resources();
  const clientsBefore = await redisClients();
  await expect(startServer(cfg, pino({ level: 'silent' }))).rejects.toThrow(message);
  const settled = await eventually(async () => {
    const after = resources();
    return (
      (after['TCPServerWrap'] ?? 0) <= (before['TCPServerWrap'] ?? 0) &&
      (after['TCPSocketWrap'] ?? 0) <= (before['TCPSocketWrap'] ?? 0) &&
      (after['Timeout'] ?? 0) <= (before['Timeout'] ?? 0) &&
      (await redisClients()) === clientsBefore
    );
  });
  expect(
    { resources: resources(), redisClients: await redisClients() },
    'something kept running after the failed start',
  ).toEqual({
    resources: expect.objectContaining({
      TCPServerWrap: before['TCPServerWrap'],
    }) as unknown,
    redisClients: clientsBefore,
  });
  expect(settled).toBe(true);
}

describe('a failed start-up stops what it had started', () => {
  it('the admin listener cannot bind: the HTTP and gRPC listeners, Redis and the timers are gone', async () => {
    await expectCleanFailure(
      config({
        listen: `{ http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:${takenPort}" }`,
      }),
      /listen\.admin: cannot listen on 127\.0\.0\.1:\d+/,
    );
  });

  it('the gRPC listener cannot bind: the HTTP listener, Redis and the timers are gone', async () => {
    await expectCleanFailure(
      config({
        listen: `{ http: "127.0.0.1:0", grpc: "127.0.0.1:${takenPort}", admin: "127.0.0.1:0" }`,
      }),
      /listen\.grpc: cannot listen on/,
    );
  });

  it('the base policy does not compile: the Redis revocation store started before it is stopped', async () => {
    await expectCleanFailure(config({ policiesDir: brokenPolicies() }), /broken\.rego/);
  });

  it('`mandate serve` (built) exits with status 1 and the reason when the base policy is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-startup-process-'));
    const configPath = join(dir, 'mandate.yaml');
    writeFileSync(configPath, configText({ policiesDir: brokenPolicies() }, dir));
    const proc = spawn(process.execPath, [MAIN, 'serve', '--config', configPath], {
      env: { ...process.env, MANDATE_CONFIG: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null | 'running'>((resolve) => {
      const timer = setTimeout(() => resolve('running'), 30_000);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    if (status === 'running') proc.kill('SIGKILL');
    expect(status, stderr).toBe(1);
    expect(stderr).toMatch(/broken\.rego/);
  });

  it('a sidecar started after those failures still starts and stops cleanly', async () => {
    const before = resources();
    const server = await startServer(config({}), pino({ level: 'silent' }));
    expect(server.components).toEqual([
      'revocations',
      'policies',
      'keys',
      'audit',
      'admin-auth',
      'listen.http',
      'listen.grpc',
      'listen.admin',
    ]);
    // Readiness reports the started components that have a status, under their lifecycle names.
    expect(Object.keys(server.core.readiness.report().components)).toEqual([
      'revocations',
      'policies',
      'keys',
      'audit',
    ]);
    expect(await redisClients()).toBeGreaterThan(0);
    await server.stop(1000);
    expect(
      await eventually(() => (resources()['TCPServerWrap'] ?? 0) <= (before['TCPServerWrap'] ?? 0)),
    ).toBe(true);
    expect(await eventually(async () => (await redisClients()) === 0)).toBe(true);
  });
});
