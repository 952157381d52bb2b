// The admin app through fastify's inject(): 401 and 403 from authentication, and the route groups' own 200/201/400/403/413/415, over real components.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog, type AuditLog } from '../../../src/audit/audit-log.js';
import { createAdminAuth, type AdminAuthSetup } from '../../../src/compose/admin-auth.js';
import { openDecisionCore, type OpenDecisionCore } from '../../../src/compose/core.js';
import { parseConfig } from '../../../src/config/load.js';
import { createReadiness } from '../../../src/lib/readiness.js';
import { buildAdminApp } from '../../../src/transport/admin/app.js';
import { auditAdminRoutes } from '../../../src/transport/admin/decisions.js';
import { startJwksServer, type JwksServer } from '../../helpers/jwks-server.js';
import { POLICIES_DIR } from '../../helpers/sidecar.js';
import { AUDIENCE, ISSUER, createTestKey, signToken, type TestKey } from '../../helpers/tokens.js';

const STATIC_TOKEN = 'inject-admin-token-0123456789abcdef0123456789';
const ADMIN_ISSUER = 'https://admin-idp.example';
const ADMIN_AUDIENCE = 'mandate-admin';

let adminKey: TestKey;
let jwks: JwksServer;
let core: OpenDecisionCore<AuditLog>;
let audit: AuditLog;
let adminAuth: AdminAuthSetup;
let app: FastifyInstance;

beforeAll(async () => {
  adminKey = await createTestKey('ES256');
  jwks = await startJwksServer([adminKey.jwk]);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-admin-app-'));
  const config = parseConfig(
    `
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
policies: { dir: "${POLICIES_DIR}" }
audit: { sink: none }
revocation: { path: "${join(dir, 'revocations.json')}", body_limit_bytes: 1024 }
admin:
  tokens: ["${STATIC_TOKEN}"]
  jwt: { issuer: "${ADMIN_ISSUER}", jwks_uri: "${jwks.url}", audiences: ["${ADMIN_AUDIENCE}"], algorithms: ["ES256"] }
`,
    { baseDir: dir },
  );
  const logger = pino({ level: 'silent' });
  audit = createAuditLog({ config: config.audit, logger });
  core = await openDecisionCore(config, logger, audit);
  adminAuth = createAdminAuth(config, config.admin.tokens, logger);
  await adminAuth.start();
  app = buildAdminApp({
    authenticator: adminAuth.authenticator,
    readiness: createReadiness({ policies: core.policy, revocations: core.revocation.store }),
    policy: core.policy,
    routes: [
      auditAdminRoutes(audit),
      core.revocation.adminRoutes(audit),
      core.policies.adminRoutes,
    ],
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await adminAuth?.stop();
  await core?.stop();
  await jwks?.close();
});

/** An admin JWT; `tenant` makes it tenant-scoped, `scope` defaults to the required one. */
function adminJwt(options: { tenant?: string; scope?: string } = {}) {
  return signToken(adminKey, {
    claims: {
      iss: ADMIN_ISSUER,
      aud: ADMIN_AUDIENCE,
      sub: 'alice@ops',
      scope: options.scope ?? 'mandate.admin',
      tenant: options.tenant,
    },
  });
}

function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  bearer: string | undefined,
  payload?: unknown,
  type = 'application/json',
) {
  return app.inject({
    method,
    url,
    headers: {
      ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}),
      ...(payload !== undefined ? { 'content-type': type } : {}),
    },
    ...(payload !== undefined
      ? { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }
      : {}),
  });
}

describe('admin authentication', () => {
  it('401 with a Bearer challenge without a token or with an unknown one, on every route', async () => {
    for (const url of ['/v1/status', '/v1/revocations', '/v1/policies', '/v1/decisions']) {
      for (const bearer of [undefined, 'not-the-admin-token']) {
        const res = await call('GET', url, bearer);
        expect(res.statusCode, `${url} ${bearer}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="mandate-admin"/);
      }
    }
  });

  it('403 insufficient_scope for a genuine admin JWT without the admin scope', async () => {
    const res = await call('GET', '/v1/status', await adminJwt({ scope: 'tickets.read' }));
    expect(res.statusCode).toBe(403);
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });

  it('200 for the static token and for an admin JWT', async () => {
    const byStatic = await call('GET', '/v1/status', STATIC_TOKEN);
    expect(byStatic.statusCode).toBe(200);
    expect(byStatic.json()).toMatchObject({ ready: true, principal: expect.any(String) });
    expect((await call('GET', '/v1/status', await adminJwt())).statusCode).toBe(200);
  });
});

describe('admin route groups', () => {
  it('revocations: 201 created, 400 invalid, 403 for another tenant, 413 too large, 415 not JSON', async () => {
    const created = await call('POST', '/v1/revocations', STATIC_TOKEN, {
      kind: 'subject',
      tenant: 'acme_inc',
      sub: 'user-9',
    });
    expect(created.statusCode).toBe(201);
    expect((await call('POST', '/v1/revocations', STATIC_TOKEN, { kind: 'nope' })).statusCode).toBe(
      400,
    );
    const foreign = await call('POST', '/v1/revocations', await adminJwt({ tenant: 'acme_inc' }), {
      kind: 'subject',
      tenant: 'initech',
      sub: 'user-9',
    });
    expect(foreign.statusCode).toBe(403);
    const big = await call('POST', '/v1/revocations', STATIC_TOKEN, {
      kind: 'subject',
      tenant: 'acme_inc',
      sub: 'x'.repeat(2000),
    });
    expect(big.statusCode).toBe(413);
    expect(
      (await call('POST', '/v1/revocations', STATIC_TOKEN, 'kind=subject', 'text/plain'))
        .statusCode,
    ).toBe(415);
  });

  it('policies: 200 units; 403 reload for a tenant-scoped admin', async () => {
    const units = await call('GET', '/v1/policies', STATIC_TOKEN);
    expect(units.statusCode).toBe(200);
    expect(units.json()).toMatchObject({
      units: expect.arrayContaining([
        expect.objectContaining({ unit: 'base', state: 'OK' }),
      ]) as unknown,
    });
    const reload = await call(
      'POST',
      '/v1/policies/reload',
      await adminJwt({ tenant: 'acme_inc' }),
    );
    expect(reload.statusCode).toBe(403);
  });

  it('decisions: 200, 400 for a bad query, 403 for another tenant', async () => {
    expect((await call('GET', '/v1/decisions', STATIC_TOKEN)).statusCode).toBe(200);
    expect((await call('GET', '/v1/decisions?source=elsewhere', STATIC_TOKEN)).statusCode).toBe(
      400,
    );
    const foreign = await call(
      'GET',
      '/v1/decisions?tenant=initech',
      await adminJwt({ tenant: 'acme_inc' }),
    );
    expect(foreign.statusCode).toBe(403);
  });

  it('admin records carry the tenant a tenant-scoped admin acted in, so its own audit query finds them', async () => {
    const token = await adminJwt({ tenant: 'acme_inc' });
    const created = await call('POST', '/v1/revocations', token, {
      kind: 'subject',
      tenant: 'acme_inc',
      sub: 'user-scoped',
    });
    expect(created.statusCode).toBe(201);
    // Audit writes are off the request path: the record reaches the ring shortly after the answer.
    let record: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && record === undefined; i += 1) {
      const mine = await call('GET', '/v1/decisions?type=admin', token);
      expect(mine.statusCode).toBe(200);
      record = (mine.json() as { records: Record<string, unknown>[] }).records.find(
        (r) => (r['target'] as { sub?: string } | undefined)?.sub === 'user-scoped',
      );
      if (record === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(record).toMatchObject({
      type: 'admin',
      action: 'revocation.create',
      tenant: 'acme_inc',
      principal: { kind: 'jwt', tenant: 'acme_inc' },
    });
    // A platform admin acts in no tenant: its records have none.
    const platform = await call('GET', '/v1/decisions?type=admin', STATIC_TOKEN);
    const byStatic = (platform.json() as { records: Record<string, unknown>[] }).records.filter(
      (r) => (r['principal'] as { kind?: string }).kind === 'static',
    );
    expect(byStatic.length).toBeGreaterThan(0);
    for (const r of byStatic) expect(r['tenant']).toBeUndefined();
  });
});
