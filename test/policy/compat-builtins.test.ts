// Compatibility mode with host builtins: OPA-Envoy's quick-start policy loads and decides; refused builtins name file and line.
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompatPolicy } from '../../src/policy/compat-unit.js';
import type { CompatPolicy } from '../../src/policy/compat-types.js';

const QUICKSTART = resolve(import.meta.dirname, '../../examples/opa-envoy-quickstart');
const NOW = 1_750_000_000;

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 token signed with `secret`, as the quick-start's users mint them. */
export function quickstartToken(claims: Record<string, unknown>, secret = 'secret'): string {
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

function request(method: string, path: string, token: string, body?: unknown) {
  return {
    attributes: {
      request: { http: { method, path, headers: { authorization: `Bearer ${token}` } } },
    },
    ...(body !== undefined ? { parsed_body: body } : {}),
  };
}

describe('compatibility mode: OPA-Envoy quick-start policy', () => {
  let policy: CompatPolicy;
  beforeAll(async () => {
    policy = createCompatPolicy({
      dir: QUICKSTART,
      entrypoint: 'envoy/authz/allow',
      now: () => BigInt(NOW) * 1_000_000_000n,
    });
    await policy.start();
  });

  const claims = (role: string, extra: Record<string, unknown> = {}) => ({
    role,
    sub: Buffer.from('alice').toString('base64url'),
    nbf: NOW - 60,
    exp: NOW + 60,
    ...extra,
  });

  it('allows a guest GET under /people and an admin POST, by the verified token', () => {
    expect(
      policy.evaluate(request('GET', '/people/1', quickstartToken(claims('guest')))).allow,
    ).toBe(true);
    const post = request('POST', '/people', quickstartToken(claims('admin')), { firstname: 'Bob' });
    expect(policy.evaluate(post).allow).toBe(true);
  });

  it('denies a wrong role, an expired or not-yet-valid token, a wrong secret and garbage', () => {
    const deny = (token: string, method = 'GET', path = '/people/1') =>
      expect(policy.evaluate(request(method, path, token)).allow).toBe(false);
    deny(quickstartToken(claims('guest')), 'POST', '/people');
    deny(quickstartToken(claims('nobody')));
    deny(quickstartToken(claims('guest', { exp: NOW - 1 })));
    deny(quickstartToken(claims('guest', { exp: NOW })));
    deny(quickstartToken(claims('guest', { nbf: NOW + 1 })));
    deny(quickstartToken(claims('guest'), 'not-the-secret'));
    deny('not.a.token');
    deny('garbage');
  });

  it('the admin may not POST a person named as themselves', () => {
    const post = request('POST', '/people', quickstartToken(claims('admin')), {
      firstname: 'Alice',
    });
    expect(policy.evaluate(post).allow).toBe(false);
  });
});

describe('compatibility mode: refused builtins', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mandate-compat-refused-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('http.send and net.lookup_ip_addr fail the load, naming builtin, file and line', async () => {
    await writeFile(
      join(dir, 'authz.rego'),
      'package envoy.authz\n\nallow if {\n\thttp.send({"method": "get", "url": "http://x"}).status_code == 200\n}\n\nips := net.lookup_ip_addr("example.com")\n',
    );
    const policy = createCompatPolicy({ dir, entrypoint: 'envoy/authz/allow' });
    const error = await policy.start().then(
      () => undefined,
      (thrown: unknown) => thrown as { code: string; message: string; builtins: string[] },
    );
    expect(error?.code).toBe('unsupported_builtin');
    expect(error?.builtins).toEqual(['http.send', 'net.lookup_ip_addr']);
    expect(error?.message).toMatch(/http\.send \([^)]*authz\.rego:4\)/);
    expect(error?.message).toMatch(/net\.lookup_ip_addr \([^)]*authz\.rego:7\)/);
  });
});
