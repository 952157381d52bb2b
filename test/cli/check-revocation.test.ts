// `mandate check` decides with the pipeline `serve` composes: a token revoked on a running sidecar (journal or Redis) is denied by check too.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/cli/check.js';
import { parseConfig } from '../../src/config/load.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ADMIN_TOKEN, POLICIES_DIR, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';

let redis: RedisServer;
let journaled: Sidecar;
let shared: Sidecar;
const journalDir = mkdtempSync(join(tmpdir(), 'mandate-check-revocation-'));

const redisYaml = () =>
  `revocation: { store: redis, redis: { url: "${redis.url}", connect_timeout_ms: 3000 } }`;
const journalYaml = `revocation: { path: "${join(journalDir, 'revocations.json')}" }`;

beforeAll(async () => {
  redis = await startRedisServer();
  journaled = await startSidecar({ yaml: journalYaml });
  shared = await startSidecar({ yaml: redisYaml(), keysFrom: journaled });
});
afterAll(async () => {
  await shared?.stop();
  await journaled?.stop();
  await redis?.stop();
});

async function revokeSubject(on: Sidecar, sub: string): Promise<void> {
  const res = await fetch(`${on.adminUrl}/v1/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'subject', tenant: 'acme_inc', sub }),
  });
  expect(res.status).toBe(201);
}

/** Runs `mandate check` in-process with a config trusting the sidecars' issuer; exit code and output. */
async function check(yaml: string, token: string): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-check-'));
  const config = parseConfig(
    `
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${journaled.jwks.url}"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
policies: { dir: "${POLICIES_DIR}" }
${yaml}
`,
    { baseDir: dir },
  );
  let out = '';
  const code = await checkCommand(
    { token, action: 'tickets.comment', tenant: 'acme_inc', json: true },
    config,
    { out: (text) => (out += text), err: (text) => (out += text) },
  );
  return { code, out };
}

const reasonOf = (out: string) =>
  (JSON.parse(out) as { reasons: { code: string }[] }).reasons[0]?.code;

describe('mandate check applies revocations as serve does', () => {
  it('a subject revoked through a sidecar with the memory store (its journal) is denied by check', async () => {
    const token = await journaled.token({
      claims: { sub: 'user-journal', scope: 'tickets.write' },
    });
    expect(await check(journalYaml, token)).toMatchObject({ code: 0 });
    await revokeSubject(journaled, 'user-journal');
    const denied = await check(journalYaml, token);
    expect(denied.code).toBe(3);
    expect(reasonOf(denied.out)).toBe('revoked');
  });

  it('a subject revoked through a sidecar with the Redis store is denied by check', async () => {
    const token = await shared.token({ claims: { sub: 'user-redis', scope: 'tickets.write' } });
    expect(await check(redisYaml(), token)).toMatchObject({ code: 0 });
    await revokeSubject(shared, 'user-redis');
    const denied = await check(redisYaml(), token);
    expect(denied.code).toBe(3);
    expect(reasonOf(denied.out)).toBe('revoked');
  });
});
