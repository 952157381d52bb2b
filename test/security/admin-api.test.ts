// The admin API under attack on a real sidecar: missing, wrong, foreign and expired credentials, tenant-scoped admins reaching across tenants, bad bodies.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { createTestKey, encodeSegment, signToken, type TestKey } from '../helpers/tokens.js';

const ADMIN_ISSUER = 'https://admin-idp.example';
const ADMIN_AUDIENCE = 'mandate-admin';

let sidecar: Sidecar;
let adminKey: TestKey;
let adminJwks: JwksServer;

beforeAll(async () => {
  adminKey = await createTestKey('ES256');
  adminJwks = await startJwksServer([adminKey.jwk]);
  sidecar = await startSidecar({
    adminYaml: `jwt: { issuer: "${ADMIN_ISSUER}", jwks_uri: "${adminJwks.url}", audiences: ["${ADMIN_AUDIENCE}"], algorithms: ["ES256"], jwks_refetch_per_minute: 600 }`,
  });
});
afterAll(async () => {
  await sidecar?.stop();
  await adminJwks?.close();
});

const now = () => Math.floor(Date.now() / 1000);

function adminJwt(claims: Record<string, unknown> = {}, key: TestKey = adminKey): Promise<string> {
  return signToken(key, {
    claims: {
      iss: ADMIN_ISSUER,
      aud: ADMIN_AUDIENCE,
      sub: 'alice@ops',
      scope: 'mandate.admin',
      tenant: undefined,
      ...claims,
    },
  });
}

async function call(
  method: string,
  path: string,
  options: { bearer?: string | undefined; body?: string; type?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const bearer = 'bearer' in options ? options.bearer : ADMIN_TOKEN;
  const res = await fetch(`${sidecar.adminUrl}${path}`, {
    method,
    headers: {
      ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}),
      ...(options.type !== undefined ? { 'content-type': options.type } : {}),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body, text };
}

const JSON_TYPE = 'application/json';

async function revocationCount(): Promise<unknown> {
  return (await call('GET', '/v1/revocations?limit=1')).body['total'];
}

describe('credentials', () => {
  it.each([
    ['no token', undefined],
    ['a wrong static token', 'x'.repeat(44)],
    ['the static token with one character changed', `${ADMIN_TOKEN.slice(0, -1)}X`],
    ['the static token with a suffix', `${ADMIN_TOKEN}x`],
    ["the static token's prefix", ADMIN_TOKEN.slice(0, 20)],
  ])('%s: 401 on every route', async (_name, bearer) => {
    for (const [method, path] of [
      ['GET', '/v1/status'],
      ['GET', '/v1/revocations'],
      ['GET', '/v1/policies'],
      ['GET', '/v1/decisions'],
      ['POST', '/v1/policies/reload'],
    ] as const) {
      const res = await call(method, path, { bearer });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it('another scheme (Basic) carrying the static token is 401', async () => {
    const res = await fetch(`${sidecar.adminUrl}/v1/status`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` },
    });
    expect(res.status).toBe(401);
  });

  it('the static token in the query string is not a credential', async () => {
    const res = await call('GET', `/v1/status?access_token=${ADMIN_TOKEN}`, { bearer: undefined });
    expect(res.status).toBe(401);
  });

  it('a data-plane access token (another issuer and audience) is 401', async () => {
    const token = await sidecar.token({ claims: { scope: 'mandate.admin' } });
    expect((await call('GET', '/v1/status', { bearer: token })).status).toBe(401);
  });

  it('an admin JWT for another audience is 401', async () => {
    const jwt = await adminJwt({ aud: 'orders-api' });
    expect((await call('GET', '/v1/status', { bearer: jwt })).status).toBe(401);
  });

  it('an expired admin JWT is 401', async () => {
    const jwt = await adminJwt({ iat: now() - 7200, exp: now() - 3600 });
    expect((await call('GET', '/v1/status', { bearer: jwt })).status).toBe(401);
  });

  it('an admin JWT signed by an unknown key is 401', async () => {
    const jwt = await adminJwt({}, await createTestKey('ES256', adminKey.kid));
    expect((await call('GET', '/v1/status', { bearer: jwt })).status).toBe(401);
  });

  it('an unsigned (alg none) admin JWT is 401', async () => {
    const jwt = `${encodeSegment({ alg: 'none', typ: 'at+jwt' })}.${encodeSegment({ iss: ADMIN_ISSUER, aud: ADMIN_AUDIENCE, sub: 'root', scope: 'mandate.admin', exp: now() + 600 })}.`;
    expect((await call('GET', '/v1/status', { bearer: jwt })).status).toBe(401);
  });

  it('an admin JWT without the required scope is 403 naming the scope', async () => {
    const res = await call('GET', '/v1/status', { bearer: await adminJwt({ scope: 'openid' }) });
    expect(res.status).toBe(403);
    expect(res.body['message']).toMatch(/mandate\.admin/);
  });

  it.each([
    ['a number', 7],
    ['a list', ['acme_inc']],
    ['empty', ''],
  ])(
    'an admin JWT whose tenant claim is %s is refused, never widened to every tenant',
    async (_n, tenant) => {
      const res = await call('GET', '/v1/revocations', { bearer: await adminJwt({ tenant }) });
      expect(res.status).toBe(401);
    },
  );

  it('an admin JWT with an empty sub is 401', async () => {
    expect((await call('GET', '/v1/status', { bearer: await adminJwt({ sub: '' }) })).status).toBe(
      401,
    );
  });

  it('unknown routes answer 401 before saying they do not exist', async () => {
    expect((await call('GET', '/v1/secrets', { bearer: undefined })).status).toBe(401);
    expect((await call('GET', '/v1/secrets')).status).toBe(404);
  });

  it('the static admin token is not an access token on the data plane', async () => {
    const res = await postCheck(sidecar, { action: 'contacts.read', token: ADMIN_TOKEN });
    expect(res.body['allow']).toBe(false);
    expect((res.body['reasons'] as { code: string }[])[0]?.code).toBe('token_malformed');
  });

  it('no admin credential appears in answers, audit or logs', async () => {
    const jwt = await adminJwt();
    await call('GET', '/v1/status', { bearer: jwt });
    await call('GET', '/v1/status', { bearer: 'y'.repeat(40) });
    const status = await call('GET', '/v1/status');
    expect(status.text).not.toContain(ADMIN_TOKEN);
    const output = await sidecar.rawOutput();
    expect(output).not.toContain(ADMIN_TOKEN);
    expect(output).not.toContain(jwt.split('.')[2]);
  });
});

describe('a tenant-scoped admin stays in its tenant', () => {
  const scoped = () => adminJwt({ tenant: 'acme_inc' });

  it('cannot create a revocation in another tenant', async () => {
    const before = await revocationCount();
    const res = await call('POST', '/v1/revocations', {
      bearer: await scoped(),
      type: JSON_TYPE,
      body: JSON.stringify({ kind: 'subject', tenant: 'globex', sub: 'u' }),
    });
    expect(res.status).toBe(403);
    expect(await revocationCount()).toBe(before);
  });

  it("cannot read, list or delete another tenant's revocations", async () => {
    const created = await call('POST', '/v1/revocations', {
      type: JSON_TYPE,
      body: JSON.stringify({ kind: 'subject', tenant: 'globex', sub: `u-${randomUUID()}` }),
    });
    expect(created.status).toBe(201);
    const id = created.body['id'] as string;
    const bearer = await scoped();
    expect((await call('GET', `/v1/revocations/${id}`, { bearer })).status).toBe(404);
    expect((await call('DELETE', `/v1/revocations/${id}`, { bearer })).status).toBe(404);
    expect((await call('GET', '/v1/revocations?tenant=globex', { bearer })).status).toBe(403);
    const list = await call('GET', '/v1/revocations?limit=1000', { bearer });
    const tenants = new Set(
      (list.body['revocations'] as { tenant?: string }[]).map((r) => r.tenant),
    );
    expect(tenants.has('globex')).toBe(false);
    expect((await call('GET', `/v1/revocations/${id}`)).status).toBe(200);
  });

  it('an actor revocation it makes applies in its own tenant only', async () => {
    const res = await call('POST', '/v1/revocations', {
      bearer: await scoped(),
      type: JSON_TYPE,
      body: JSON.stringify({ kind: 'actor', actor: `bot-${randomUUID()}` }),
    });
    expect(res.status).toBe(201);
    expect(res.body['tenant']).toBe('acme_inc');
  });

  it("sees base and its own tenant's policies only, and cannot reload every policy", async () => {
    const bearer = await scoped();
    const units = (await call('GET', '/v1/policies', { bearer })).body['units'] as {
      unit: string;
    }[];
    expect(units.map((u) => u.unit).sort()).toEqual(['base', 'tenant:acme_inc']);
    expect(
      (await call('GET', '/v1/policies?unit=tenant:initech', { bearer })).body['units'],
    ).toEqual([]);
    expect((await call('POST', '/v1/policies/reload', { bearer })).status).toBe(403);
  });

  it("reads its own tenant's decisions only", async () => {
    const acme = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const globex = await sidecar.token({ claims: { scope: 'contacts.read', tenant: 'globex' } });
    await postCheck(sidecar, { action: 'contacts.read', token: acme });
    await postCheck(sidecar, { action: 'contacts.read', token: globex });
    const bearer = await scoped();
    const own = await call('GET', '/v1/decisions?limit=1000', { bearer });
    expect(own.status).toBe(200);
    const tenants = new Set((own.body['records'] as { tenant?: string }[]).map((r) => r.tenant));
    expect([...tenants]).toEqual(['acme_inc']);
    expect((await call('GET', '/v1/decisions?tenant=globex', { bearer })).status).toBe(403);
    // An unscoped admin still sees every tenant.
    const all = await call('GET', '/v1/decisions?limit=1000');
    const allTenants = new Set((all.body['records'] as { tenant?: string }[]).map((r) => r.tenant));
    expect(allTenants.has('globex')).toBe(true);
  });
});

describe('bodies', () => {
  it('bad JSON is 400 and stores nothing', async () => {
    const before = await revocationCount();
    const res = await call('POST', '/v1/revocations', {
      type: JSON_TYPE,
      body: '{"kind":"tenant",',
    });
    expect(res.status).toBe(400);
    expect(await revocationCount()).toBe(before);
  });

  it('a JSON array or string body is 400', async () => {
    for (const body of ['[]', '"tenant"', 'null']) {
      expect((await call('POST', '/v1/revocations', { type: JSON_TYPE, body })).status).toBe(400);
    }
  });

  it('an oversized body is 413 and stores nothing', async () => {
    const before = await revocationCount();
    const res = await call('POST', '/v1/revocations', {
      type: JSON_TYPE,
      body: JSON.stringify({ kind: 'tenant', tenant: 'acme_inc', reason: 'x'.repeat(100_000) }),
    });
    expect(res.status).toBe(413);
    expect(await revocationCount()).toBe(before);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
    'content type %s is refused (415) and stores nothing',
    async (type) => {
      const before = await revocationCount();
      const res = await call('POST', '/v1/revocations', {
        type,
        body: JSON.stringify({ kind: 'tenant', tenant: 'acme_inc' }),
      });
      expect(res.status).toBe(415);
      expect(await revocationCount()).toBe(before);
    },
  );

  it('a __proto__ member does not pollute anything and is refused as an unknown field', async () => {
    const res = await call('POST', '/v1/revocations', {
      type: JSON_TYPE,
      body: '{"kind":"tenant","tenant":"acme_inc","__proto__":{"admin":true}}',
    });
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });
});
