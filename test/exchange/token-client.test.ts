// mandate's RFC 8693 client against the real dev authorization server and against small misbehaving servers: client auth, discovery, retries, errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClientAuth, ExchangeEndpoint } from '../../src/config/exchange.js';
import { DEMO_CLIENTS } from '../../src/dev-as/options.js';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../src/dev-as/server.js';
import { createActorTokenSource } from '../../src/exchange/actor-token.js';
import { createAsHttp } from '../../src/exchange/as-http.js';
import { createClientAuthenticator } from '../../src/exchange/client-auth.js';
import { createEndpointResolver, metadataUrls } from '../../src/exchange/metadata.js';
import { createTokenClient, type TokenClient } from '../../src/exchange/token-client.js';

const dir = mkdtempSync(join(tmpdir(), 'mandate-xclient-'));
let as: DevAuthorizationServer;
let keyFile: string;
let subject: string;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'jwt-service-key';
  keyFile = join(dir, 'jwt-service.jwk.json');
  writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES256' }));
  as = await startDevAuthorizationServer({
    port: 0,
    interactions: false,
    clients: [
      ...DEMO_CLIENTS,
      {
        clientId: 'post-service',
        secret: 'post-service-dev-secret',
        authMethod: 'client_secret_post',
        tenant: 'acme_inc',
      },
      {
        clientId: 'jwt-service',
        jwks: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }],
        tenant: 'acme_inc',
      },
    ],
  });
  subject = await as.clientCredentials('crm-service', 'urn:mandate:crm-api', 'contacts.read');
});

afterAll(async () => {
  await as?.stop();
});

const http = createAsHttp({ timeoutMs: 2000, retries: 1, retryBackoffMs: 5 });

async function clientFor(
  clientId: string,
  auth: ExchangeClientAuth,
  endpoint: ExchangeEndpoint = { kind: 'token_endpoint', url: as.tokenEndpoint },
): Promise<TokenClient> {
  return createTokenClient(
    createEndpointResolver(endpoint, http),
    await createClientAuthenticator(clientId, auth),
    http,
  );
}

describe('client authentication at the real dev AS', () => {
  it.each([
    [
      'client_secret_basic',
      'crm-service',
      { method: 'client_secret_basic', secret: 'crm-service-dev-secret' },
    ],
    [
      'client_secret_post',
      'post-service',
      { method: 'client_secret_post', secret: 'post-service-dev-secret' },
    ],
  ] as const)('%s', async (_name, clientId, auth) => {
    const client = await clientFor(clientId, auth);
    const result = await client.exchange({
      subjectToken: subject,
      audience: 'crm-api',
      scopes: ['contacts.read'],
    });
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      token: { scope: 'contacts.read', tokenType: 'Bearer' },
    });
    if (result.ok)
      expect(decodeJwt(result.token.accessToken)).toMatchObject({
        client_id: clientId,
        act: { sub: clientId },
      });
  });

  it('private_key_jwt, with the endpoint found by discovery (the issuer is the assertion audience)', async () => {
    const client = await clientFor(
      'jwt-service',
      { method: 'private_key_jwt', keyPath: keyFile, alg: 'ES256' },
      { kind: 'discovery', issuer: as.issuer },
    );
    // Twice: every request signs a fresh assertion (a replayed jti would be refused).
    for (let i = 0; i < 2; i++) {
      const result = await client.exchange({
        subjectToken: subject,
        audience: 'crm-api',
        scopes: [],
      });
      expect(result.ok).toBe(true);
      if (result.ok) expect(decodeJwt(result.token.accessToken)['client_id']).toBe('jwt-service');
    }
  });

  it('a wrong secret is as_rejected with the AS error code invalid_client', async () => {
    const client = await clientFor('crm-service', {
      method: 'client_secret_basic',
      secret: 'wrong',
    });
    expect(await client.clientCredentials()).toMatchObject({
      ok: false,
      code: 'as_rejected',
      asError: 'invalid_client',
      asStatus: 401,
    });
  });

  it('an unreadable private key fails at construction, naming the key', async () => {
    await expect(
      createClientAuthenticator('x', {
        method: 'private_key_jwt',
        keyPath: join(dir, 'missing.json'),
        alg: 'ES256',
      }),
    ).rejects.toThrow(/exchange\.private_key_file: cannot read/);
    const publicOnly = join(dir, 'public.json');
    writeFileSync(publicOnly, JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }));
    await expect(
      createClientAuthenticator('x', {
        method: 'private_key_jwt',
        keyPath: publicOnly,
        alg: 'ES256',
      }),
    ).rejects.toThrow(/not a private ES256 key/);
  });
});

describe('the actor token', () => {
  it('is fetched with client credentials once and then served from memory', async () => {
    const client = await clientFor('crm-service', {
      method: 'client_secret_basic',
      secret: 'crm-service-dev-secret',
    });
    const source = createActorTokenSource(client, { skewSeconds: 30 });
    const before = as.stats().grants['client_credentials'] ?? 0;
    const [a, b] = await Promise.all([source.get(), source.get()]);
    const c = await source.get();
    expect(a.ok && b.ok && c.ok).toBe(true);
    expect(as.stats().grants['client_credentials']).toBe(before + 1);
  });
});

/** A scripted token endpoint: each request gets the next answer; counts requests. */
async function scripted(
  answers: ((res: ServerResponse) => void)[],
): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () =>
      (answers[Math.min(n++, answers.length - 1)] as (res: ServerResponse) => void)(res),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => n,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const json = (status: number, body: unknown) => (res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

describe('misbehaving authorization servers', () => {
  const auth = { method: 'client_secret_basic', secret: 's' } as const;

  it('retries a 5xx within the bound, then succeeds', async () => {
    const server = await scripted([
      json(503, {}),
      json(200, { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 60 }),
    ]);
    try {
      const client = await clientFor('c', auth, {
        kind: 'token_endpoint',
        url: `${server.url}/token`,
      });
      expect(await client.clientCredentials()).toMatchObject({
        ok: true,
        token: { expiresIn: 60 },
      });
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('stops after the bounded retries on persistent 5xx: as_unavailable with the status', async () => {
    const server = await scripted([json(502, { error: 'temporarily_unavailable' })]);
    try {
      const client = await clientFor('c', auth, {
        kind: 'token_endpoint',
        url: `${server.url}/token`,
      });
      expect(await client.clientCredentials()).toMatchObject({
        ok: false,
        code: 'as_unavailable',
        asStatus: 502,
        asError: 'temporarily_unavailable',
      });
      expect(server.count()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('never retries a 4xx answer', async () => {
    const server = await scripted([
      json(400, { error: 'invalid_target', error_description: 'no such API' }),
    ]);
    try {
      const client = await clientFor('c', auth, {
        kind: 'token_endpoint',
        url: `${server.url}/token`,
      });
      const result = await client.exchange({ subjectToken: 't', audience: 'x', scopes: [] });
      expect(result).toMatchObject({
        ok: false,
        code: 'as_rejected',
        asError: 'invalid_target',
        asStatus: 400,
      });
      if (!result.ok) expect(result.message).toContain('(no such API)');
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('a 200 that is not a token response is as_invalid_response', async () => {
    const server = await scripted([
      json(200, { token_type: 'Bearer' }),
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    ]);
    try {
      const client = await clientFor('c', auth, {
        kind: 'token_endpoint',
        url: `${server.url}/token`,
      });
      expect(await client.clientCredentials()).toMatchObject({
        ok: false,
        code: 'as_invalid_response',
        message: expect.stringContaining('no access_token'),
      });
      expect(await client.clientCredentials()).toMatchObject({
        ok: false,
        code: 'as_invalid_response',
      });
    } finally {
      await server.close();
    }
  });

  it('refuses AS metadata published for another issuer (RFC 8414 §3.3)', async () => {
    const server = await scripted([
      json(200, { issuer: 'https://evil.example', token_endpoint: 'https://evil.example/token' }),
    ]);
    try {
      const resolver = createEndpointResolver({ kind: 'discovery', issuer: server.url }, http);
      expect(await resolver.resolve()).toMatchObject({
        ok: false,
        code: 'as_invalid_response',
        message: expect.stringContaining('https://evil.example'),
      });
    } finally {
      await server.close();
    }
  });

  it('builds both well-known URLs for an issuer with a path', () => {
    expect(metadataUrls('https://as.example/tenant-1')).toEqual([
      'https://as.example/.well-known/oauth-authorization-server/tenant-1',
      'https://as.example/tenant-1/.well-known/openid-configuration',
    ]);
  });
});
