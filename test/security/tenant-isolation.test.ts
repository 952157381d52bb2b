// Tenant isolation on a real sidecar: admins confined to their tenant (decisions, audit tail, revocations, policies), tenant guards, and delegation chains that cannot hide an actor.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgram } from '../../src/cli/program.js';
import {
  AuthorizerClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/gen/mandate/v1/authorizer.js';
import { envoyHttp } from '../helpers/envoy.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

const ADMIN_ISSUER = 'https://admin-idp.example';
const ADMIN_AUDIENCE = 'mandate-admin';
const A = 'acme_inc';
const B = 'initech';

let sidecar: Sidecar;
let adminKey: TestKey;
let adminJwks: JwksServer;
let grpc: AuthorizerClient;
/** Decisions made in each tenant before the tests ran, by id. */
const decided: Record<string, string[]> = { [A]: [], [B]: [] };

beforeAll(async () => {
  adminKey = await createTestKey('ES256');
  adminJwks = await startJwksServer([adminKey.jwk]);
  const state = mkdtempSync(join(tmpdir(), 'mandate-tenancy-'));
  sidecar = await startSidecar({
    yaml: `revocation: { path: "${join(state, 'revocations.json')}" }
envoy:
  tenant_header: x-tenant
  routes:
    - { method: GET, path: /v1/contacts, action: contacts.read }
    - { method: GET, path: "/v1/orgs/{org}/contacts", action: contacts.read, tenant: "{org}" }
`,
    adminYaml: `jwt: { issuer: "${ADMIN_ISSUER}", jwks_uri: "${adminJwks.url}", audiences: ["${ADMIN_AUDIENCE}"], algorithms: ["ES256"], jwks_refetch_per_minute: 600 }`,
  });
  grpc = new AuthorizerClient(sidecar.grpcTarget, credentials.createInsecure());
  for (const tenant of [A, B]) {
    for (const sub of ['user-1', `${tenant}-user`]) {
      const { body } = await check({ tenant, sub, scope: 'contacts.read' });
      decided[tenant]?.push(body['decision_id'] as string);
    }
  }
});

afterAll(async () => {
  grpc?.close();
  await sidecar?.stop();
  await adminJwks?.close();
});

/** An admin JWT; `tenant` makes it tenant-scoped. */
function adminJwt(claims: Record<string, unknown> = {}): Promise<string> {
  return signToken(adminKey, {
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

async function admin(
  method: string,
  path: string,
  bearer: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sidecar.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type AuditRow = Record<string, unknown>;

/** GET /v1/decisions as `bearer`; the records when 200. */
async function decisions(query: string, bearer: string) {
  await sidecar.auditRecords(); // the ring is filled off the request path
  const res = await admin('GET', `/v1/decisions?limit=10000${query}`, bearer);
  return { ...res, records: (res.body['records'] ?? []) as AuditRow[] };
}

const tenantsOf = (records: readonly AuditRow[]) => [...new Set(records.map((r) => r['tenant']))];

/** A /v1/check by a token of `claims` (tenant acme_inc unless given). */
async function check(claims: Record<string, unknown>, request: object = {}) {
  const token = await sidecar.token({ claims: { scope: 'contacts.read', ...claims } });
  return postCheck(
    sidecar,
    { action: 'contacts.read', ...request },
    { authorization: `Bearer ${token}` },
  );
}

describe('GET /v1/decisions confines a tenant-scoped admin to its tenant', () => {
  it("refuses another tenant's filter with 403 and no records", async () => {
    const res = await decisions(`&tenant=${B}`, await adminJwt({ tenant: A }));
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: 'forbidden',
      message: `tenant: this admin may only read tenant ${A}`,
    });
  });

  it("answers no filter with its own tenant's records only", async () => {
    const res = await decisions('', await adminJwt({ tenant: A }));
    expect(res.status).toBe(200);
    expect(tenantsOf(res.records)).toEqual([A]);
    const ids = res.records.map((r) => r['decision_id']);
    expect(ids).toEqual(expect.arrayContaining(decided[A] as string[]));
    for (const id of decided[B] as string[]) expect(ids).not.toContain(id);
  });

  it('answers its own tenant as a filter like no filter', async () => {
    const scoped = await adminJwt({ tenant: A });
    const own = await decisions(`&tenant=${A}`, scoped);
    expect(own.status).toBe(200);
    expect(own.records).toEqual((await decisions('', scoped)).records);
  });

  it("finds no record of another tenant's by its decision id, subject or agent", async () => {
    const scoped = await adminJwt({ tenant: A });
    const theirs = decided[B]?.[0] as string;
    expect((await decisions(`&decision_id=${theirs}`, scoped)).records).toEqual([]);
    expect((await decisions(`&sub=${B}-user`, scoped)).records).toEqual([]);
    const byAgent = await decisions('&agent=agent-1', scoped);
    expect(tenantsOf(byAgent.records)).toEqual([A]);
  });

  it('is confined when the file answers, too', async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const res = await decisions(`&source=file&since=${since}`, await adminJwt({ tenant: A }));
    expect(res.status).toBe(200);
    expect(res.body['source']).toBe('file');
    expect(tenantsOf(res.records)).toEqual([A]);
    const refused = await decisions(
      `&source=file&since=${since}&tenant=${B}`,
      await adminJwt({ tenant: A }),
    );
    expect(refused.status).toBe(403);
  });

  it('is confined when following the ring with a cursor', async () => {
    const scoped = await adminJwt({ tenant: A });
    const first = await decisions('', scoped);
    expect(first.body['next_after']).toEqual(expect.any(Number));
    const cursor = (first.body['next_after'] as number) - 10;
    await check({ tenant: B, sub: 'late-b' });
    await check({ tenant: A, sub: 'late-a' });
    const next = await decisions(`&source=ring&after=${Math.max(0, cursor)}`, scoped);
    expect(next.status).toBe(200);
    expect(tenantsOf(next.records)).toEqual([A]);
    expect(next.records.map((r) => r['sub'])).toContain('late-a');
  });

  it('sees no admin records (they are not any one tenant’s)', async () => {
    await admin('GET', '/v1/revocations', ADMIN_TOKEN);
    const scoped = await decisions('&type=admin', await adminJwt({ tenant: A }));
    expect(scoped.records).toEqual([]);
    expect((await decisions('&type=admin', ADMIN_TOKEN)).records.length).toBeGreaterThan(0);
  });

  it('confines a scoped admin of the other tenant the same way', async () => {
    const res = await decisions('', await adminJwt({ tenant: B }));
    expect(tenantsOf(res.records)).toEqual([B]);
    expect((await decisions(`&tenant=${A}`, await adminJwt({ tenant: B }))).status).toBe(403);
  });

  it('lets platform admins (a static token, a JWT without a tenant) read every tenant', async () => {
    for (const bearer of [ADMIN_TOKEN, await adminJwt()]) {
      const all = await decisions('', bearer);
      expect(all.status).toBe(200);
      expect(tenantsOf(all.records)).toEqual(expect.arrayContaining([A, B]));
      expect(tenantsOf((await decisions(`&tenant=${B}`, bearer)).records)).toEqual([B]);
    }
  });

  it('refuses an admin JWT whose tenant claim is not a string (401), rather than widen it', async () => {
    for (const tenant of [[A, B], 7, '']) {
      expect((await decisions('', await adminJwt({ tenant }))).status).toBe(401);
    }
  });
});

describe('mandate audit tail with a tenant-scoped admin token', () => {
  async function tail(args: string[], token: string, signal?: AbortSignal) {
    const out: string[] = [];
    const err: string[] = [];
    // Through the CLI's own command tree, as `mandate audit tail ...` parses it.
    const result = { code: 0 };
    const program = createProgram(
      {
        env: { MANDATE_ADMIN_TOKEN: token },
        out: (t) => void out.push(t),
        err: (t) => void err.push(t),
        ...(signal ? { signal } : {}),
      },
      result,
    );
    const run = program
      .parseAsync(['audit', 'tail', '--admin-url', sidecar.adminUrl, '--json', ...args], {
        from: 'user',
      })
      .then(() => result.code);
    return { run, out, err };
  }

  it("prints its own tenant's records only", async () => {
    const { run, out } = await tail(['--limit', '1000'], await adminJwt({ tenant: A }));
    expect(await run).toBe(0);
    const records = out.map((l) => JSON.parse(l) as AuditRow);
    expect(records.length).toBeGreaterThan(0);
    expect(tenantsOf(records)).toEqual([A]);
  });

  it('fails on another tenant with the 403 message and prints nothing', async () => {
    const { run, out } = await tail(['--tenant', B], await adminJwt({ tenant: A }));
    await expect(run).rejects.toThrow(/403.*may only read tenant acme_inc/);
    expect(out).toEqual([]);
  });

  it('stops following on that 403 instead of retrying', async () => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5000);
    const { run, err } = await tail(
      ['--tenant', B, '--follow', '--interval', '100ms'],
      await adminJwt({ tenant: A }),
      abort.signal,
    );
    await expect(run).rejects.toThrow(/403/);
    clearTimeout(timer);
    expect(err.join('')).not.toMatch(/retrying/);
  });
});

describe('tenant guards on checks', () => {
  it('denies a request naming another tenant than the token’s (tenant_mismatch)', async () => {
    const { body } = await check({ tenant: A }, { tenant: B });
    expect(body).toMatchObject({ allow: false, reasons: [{ code: 'tenant_mismatch' }] });
  });

  it('denies an Envoy request whose tenant header names another tenant', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/contacts',
      headers: { authorization: `Bearer ${token}`, 'x-tenant': B },
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).reasons[0].code).toBe('tenant_mismatch');
  });

  it('denies an Envoy request whose route takes another tenant from the path', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: `/v1/orgs/${B}/contacts`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
    const own = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: `/v1/orgs/${A}/contacts`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(own.status).toBe(200);
  });

  it('denies a token whose tenant claim is not a string', async () => {
    for (const tenant of [[A, B], { id: A }, 1]) {
      const { body } = await check({ tenant }, { tenant: A });
      expect(body['allow']).toBe(false);
      expect((body['reasons'] as { code: string }[])[0]?.code).toBe('claim_missing');
    }
  });
});

describe('revocation and policy admin across tenants', () => {
  it("refuses a scoped admin's revocation in another tenant, and adds nothing", async () => {
    const before = (await admin('GET', `/v1/revocations?tenant=${B}`, ADMIN_TOKEN)).body['total'];
    const res = await admin('POST', '/v1/revocations', await adminJwt({ tenant: A }), {
      kind: 'tenant',
      tenant: B,
    });
    expect(res.status).toBe(403);
    expect((await admin('GET', `/v1/revocations?tenant=${B}`, ADMIN_TOKEN)).body['total']).toBe(
      before,
    );
    expect((await check({ tenant: B })).body['allow']).toBe(true);
  });

  it("hides another tenant's revocation from a scoped admin: get and delete are 404, it stays", async () => {
    const entry = await admin('POST', '/v1/revocations', ADMIN_TOKEN, {
      kind: 'subject',
      tenant: B,
      sub: 'someone-in-b',
    });
    const id = entry.body['id'] as string;
    const scoped = await adminJwt({ tenant: A });
    expect((await admin('GET', `/v1/revocations/${id}`, scoped)).status).toBe(404);
    expect((await admin('DELETE', `/v1/revocations/${id}`, scoped)).status).toBe(404);
    expect((await admin('GET', `/v1/revocations/${id}`, ADMIN_TOKEN)).status).toBe(200);
  });

  it("lists only its own tenant's revocations, and refuses another tenant's list", async () => {
    const scoped = await adminJwt({ tenant: A });
    await admin('POST', '/v1/revocations', scoped, { kind: 'subject', sub: 'gone-from-a' });
    const list = await admin('GET', '/v1/revocations?limit=1000', scoped);
    const tenants = new Set(
      (list.body['revocations'] as { tenant?: string }[]).map((r) => r.tenant),
    );
    expect([...tenants]).toEqual([A]);
    expect((await admin('GET', `/v1/revocations?tenant=${B}`, scoped)).status).toBe(403);
  });

  it("a scoped admin's revocation reaches only its own tenant's tokens", async () => {
    const scoped = await adminJwt({ tenant: A });
    const res = await admin('POST', '/v1/revocations', scoped, {
      kind: 'subject',
      sub: 'shared-name',
    });
    expect(res.body['tenant']).toBe(A);
    const iat = Math.floor(Date.now() / 1000) - 5;
    expect((await check({ tenant: A, sub: 'shared-name', iat })).body['reasons']).toEqual([
      expect.objectContaining({ code: 'revoked' }),
    ]);
    expect((await check({ tenant: B, sub: 'shared-name', iat })).body['allow']).toBe(true);
  });

  it("shows a scoped admin base and its own tenant's policy only, and refuses a reload", async () => {
    const scoped = await adminJwt({ tenant: A });
    const units = (await admin('GET', '/v1/policies', scoped)).body['units'] as {
      unit: string;
    }[];
    expect(units.map((u) => u.unit).sort()).toEqual(['base', `tenant:${A}`]);
    const other = await admin('GET', `/v1/policies?unit=tenant:${B}`, scoped);
    expect(other.body['units']).toEqual([]);
    const all = (await admin('GET', '/v1/policies', ADMIN_TOKEN)).body['units'] as {
      unit: string;
    }[];
    expect(all.map((u) => u.unit)).toContain(`tenant:${B}`);
    expect((await admin('POST', '/v1/policies/reload', scoped)).status).toBe(403);
  });
});

describe('a malformed act claim fails closed with claim_invalid', () => {
  const malformed: readonly [string, unknown][] = [
    ['an array', [{ sub: 'agent-x' }]],
    ['a string', 'agent-x'],
    ['a number', 42],
    ['null', null],
    ['an array one level down', { sub: 'front-agent', act: [{ sub: 'agent-x' }] }],
    ['a string two levels down', { sub: 'a', act: { sub: 'b', act: 'agent-x' } }],
  ];

  it.each(malformed)('act as %s is denied, and the record names the reason', async (_n, act) => {
    const { body } = await check({ act });
    expect(body).toMatchObject({ allow: false, reasons: [{ code: 'claim_invalid' }] });
    const record = (await sidecar.auditRecords()).find(
      (r) => r['decision_id'] === body['decision_id'],
    );
    expect(record).toMatchObject({ allow: false, reasons: [{ code: 'claim_invalid' }] });
    expect(record?.['act']).toBeUndefined();
  });

  it('a revoked actor cannot hide behind a malformed chain', async () => {
    const actor = `bad-agent-${Date.now()}`;
    const res = await admin('POST', '/v1/revocations', ADMIN_TOKEN, {
      kind: 'actor',
      actor,
      absolute: true,
    });
    expect(res.status).toBe(201);
    const wellFormed = await check({ act: { sub: 'front-agent', act: { sub: actor } } });
    expect(wellFormed.body['reasons']).toEqual([expect.objectContaining({ code: 'revoked' })]);
    for (const act of [
      [{ sub: actor }],
      { sub: 'front-agent', act: [{ sub: actor }] },
      { sub: 'front-agent', act: actor },
      { sub: 'front-agent', act: { act: { sub: actor } } },
    ]) {
      const { body } = await check({ act });
      expect(body['allow'], JSON.stringify(act)).toBe(false);
      expect((body['reasons'] as { code: string }[])[0]?.code).toBe('claim_invalid');
    }
  });

  it('is a 401 invalid_token through Envoy', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read', act: ['agent-x'] } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/contacts',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(JSON.parse(res.text).reasons[0].code).toBe('claim_invalid');
  });

  it('is denied over gRPC Check', async () => {
    const metadata = new Metadata();
    const token = await sidecar.token({ claims: { scope: 'contacts.read', act: 'agent-x' } });
    metadata.set('authorization', `Bearer ${token}`);
    const res = await new Promise<CheckResponse>((resolve, reject) =>
      grpc.check(
        CheckRequest.fromPartial({ action: 'contacts.read' }),
        metadata,
        (err: ServiceError | null, r) => (err || !r ? reject(err) : resolve(r)),
      ),
    );
    expect(res.allow).toBe(false);
    expect(res.reasons[0]?.code).toBe('claim_invalid');
  });

  it('still allows a well-formed chain and records it whole', async () => {
    const { body } = await check({ act: { sub: 'agent-1', act: { sub: 'support-bot' } } });
    expect(body['allow']).toBe(true);
    const record = (await sidecar.auditRecords()).find(
      (r) => r['decision_id'] === body['decision_id'],
    );
    expect(record?.['act']).toEqual(['agent-1', 'support-bot']);
  });
});
