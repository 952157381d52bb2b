// OPA-Envoy's quick-start policy, unchanged, through a real sidecar in compatibility mode: its own JWT check with io.jwt.decode_verify.
import { createHmac } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { envoyCheck, envoyClient, envoyHttp } from '../helpers/envoy.js';
import { ADMIN_TOKEN, startSidecar, type Sidecar } from '../helpers/sidecar.js';

const QUICKSTART_DIR = resolve(import.meta.dirname, '../../examples/opa-envoy-quickstart');

// mandate's own access token travels in its own header; Authorization carries the policy's JWT,
// as OPA-Envoy's users send it.
const QUICKSTART_YAML = `
envoy:
  token_headers: [x-mandate-token]
  compat: { enabled: true, dir: "${QUICKSTART_DIR}" }
`;

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function quickstartJwt(claims: Record<string, unknown>, secret = 'secret'): string {
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

function claims(role: string, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    role,
    sub: Buffer.from('alice').toString('base64url'),
    nbf: now - 60,
    exp: now + 600,
    ...extra,
  };
}

describe('OPA-Envoy quick-start policy in compatibility mode', () => {
  let sidecar: Sidecar;
  let client: AuthorizationClient;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: QUICKSTART_YAML });
    client = envoyClient(sidecar.grpcTarget);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
  });

  async function headers(jwt: string) {
    return { authorization: `Bearer ${jwt}`, 'x-mandate-token': `Bearer ${await sidecar.token()}` };
  }

  it('loads: the status names the compatibility policy', async () => {
    const res = await fetch(`${sidecar.adminUrl}/v1/status`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(JSON.stringify(await res.json())).toContain('envoy/authz/allow');
  });

  it('gRPC: allows by role and path, denies a wrong role, an expired token and a wrong secret', async () => {
    const check = async (method: string, path: string, jwt: string, body?: string) =>
      envoyCheck(client, {
        method,
        path,
        headers: { ...(await headers(jwt)), 'content-type': 'application/json' },
        ...(body !== undefined ? { body } : {}),
      });
    expect((await check('GET', '/people/1', quickstartJwt(claims('guest')))).status?.code).toBe(0);
    expect((await check('GET', '/people/1', quickstartJwt(claims('admin')))).status?.code).toBe(0);
    const post = await check(
      'POST',
      '/people',
      quickstartJwt(claims('admin')),
      '{"firstname":"Bob"}',
    );
    expect(post.status?.code).toBe(0);
    const self = await check(
      'POST',
      '/people',
      quickstartJwt(claims('admin')),
      '{"firstname":"Alice"}',
    );
    expect(self.deniedResponse?.status?.code).toBe(403);
    const guestPost = await check(
      'POST',
      '/people',
      quickstartJwt(claims('guest')),
      '{"firstname":"Bob"}',
    );
    expect(guestPost.deniedResponse?.status?.code).toBe(403);
    const expired = quickstartJwt(claims('guest', { exp: Math.floor(Date.now() / 1000) - 1 }));
    expect((await check('GET', '/people/1', expired)).deniedResponse?.status?.code).toBe(403);
    const forged = quickstartJwt(claims('admin'), 'guessed');
    expect((await check('GET', '/people/1', forged)).deniedResponse?.status?.code).toBe(403);
    expect((await check('GET', '/people/1', 'not-a-jwt')).deniedResponse?.status?.code).toBe(403);
  });

  it('HTTP: the same decisions', async () => {
    const call = async (path: string, jwt: string) =>
      (await envoyHttp(sidecar.httpUrl, { method: 'GET', path, headers: await headers(jwt) }))
        .status;
    expect(await call('/people/7', quickstartJwt(claims('guest')))).toBe(200);
    expect(await call('/people/7', quickstartJwt(claims('nobody')))).toBe(403);
    expect(await call('/elsewhere', quickstartJwt(claims('admin')))).toBe(403);
  });
});
