// The dev signer: a key persisted once with tight permissions, and minted tokens the verifier accepts.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SIGNING_KEY_FILE, loadOrCreateDevSigner } from '../../src/token/dev-signer.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import { RFC9068_CLAIMS, TOKEN_CONFIG } from '../helpers/tokens.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mandate-dev-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const mintOptions = {
  issuer: 'https://dev.mandate.local',
  audience: 'dev-api',
  sub: 'alice',
  tenant: 'acme',
  scope: ['orders.read', 'orders.write'],
  clientId: 'agent-1',
  ttlSeconds: 600,
};

describe('loadOrCreateDevSigner', () => {
  it('creates the state dir and a 0600 key file once, then reuses it', async () => {
    const stateDir = join(root, 'nested', 'state');
    const first = await loadOrCreateDevSigner(stateDir);
    const file = join(stateDir, DEV_SIGNING_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { kid: string };
    expect(stored.kid).toBe(first.kid);
    const second = await loadOrCreateDevSigner(stateDir);
    expect(second.kid).toBe(first.kid);
    expect(second.publicJwks).toEqual(first.publicJwks);
    expect(first.publicJwks.keys[0]).not.toHaveProperty('d');
    expect(first.publicJwks.keys[0]).toMatchObject({ kid: first.kid, alg: 'ES256', use: 'sig' });
  });

  it('two concurrent starts agree on one key', async () => {
    const stateDir = join(root, 'race');
    const [a, b] = await Promise.all([
      loadOrCreateDevSigner(stateDir),
      loadOrCreateDevSigner(stateDir),
    ]);
    expect(a.kid).toBe(b.kid);
  });

  it('refuses a corrupt key file, naming the path', async () => {
    const stateDir = join(root, 'corrupt');
    await loadOrCreateDevSigner(stateDir);
    await writeFile(join(stateDir, DEV_SIGNING_KEY_FILE), '{"kid":1}');
    await expect(loadOrCreateDevSigner(stateDir)).rejects.toThrow(/corrupt.*dev-signing-key\.json/);
  });
});

describe('mint', () => {
  it('round-trips through the verifier with RFC 9068 claims and nested act', async () => {
    const stateDir = join(root, 'mint');
    const signer = await loadOrCreateDevSigner(stateDir);
    const jwksPath = join(stateDir, 'dev-jwks.json');
    await writeFile(jwksPath, JSON.stringify(signer.publicJwks));
    const verifier = createTokenVerifier({
      issuers: [
        {
          issuer: mintOptions.issuer,
          keys: { kind: 'jwks_file', path: jwksPath },
          audiences: [mintOptions.audience],
          algorithms: ['ES256'],
          tokenTypes: ['at+jwt'],
          clockToleranceSeconds: 30,
          requiredClaims: [...RFC9068_CLAIMS, 'scope', 'org'],
        },
      ],
      token: TOKEN_CONFIG,
    });
    await verifier.start();

    const token = await signer.mint({
      ...mintOptions,
      act: ['agent-2', 'agent-1'],
      tenantClaim: 'org',
      extra: { iss: 'https://forged.example', custom: true },
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: signer.kid, typ: 'at+jwt' });
    const result = await verifier.verify(token);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { claims } = result;
    expect(claims).toMatchObject({
      iss: mintOptions.issuer,
      sub: 'alice',
      aud: 'dev-api',
      client_id: 'agent-1',
      scope: 'orders.read orders.write',
      org: 'acme',
      custom: true,
      act: { sub: 'agent-2', act: { sub: 'agent-1' } },
    });
    expect(claims).not.toHaveProperty('tenant');
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('omits tenant and act when not given', async () => {
    const signer = await loadOrCreateDevSigner(join(root, 'plain'));
    const withoutTenant = { ...mintOptions, tenant: undefined };
    const token = await signer.mint(withoutTenant);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as object;
    expect(claims).not.toHaveProperty('tenant');
    expect(claims).not.toHaveProperty('act');
  });
});
