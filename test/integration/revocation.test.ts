// Revocation end to end: the admin API on a real sidecar, every kind denying exactly what it names, undo, auth, audit, restarts.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

const ADMIN_ISSUER = 'https://admin-idp.example';
const ADMIN_AUDIENCE = 'mandate-admin';
const STATE = mkdtempSync(join(tmpdir(), 'mandate-rv-it-'));
const REVOCATIONS = join(STATE, 'revocations.json');

let sidecar: Sidecar;
let adminKey: TestKey;
let adminJwks: JwksServer;

beforeAll(async () => {
  adminKey = await createTestKey('ES256');
  adminJwks = await startJwksServer([adminKey.jwk]);
  sidecar = await startSidecar({
    yaml: `revocation: { path: "${REVOCATIONS}" }`,
    adminYaml: `jwt: { issuer: "${ADMIN_ISSUER}", jwks_uri: "${adminJwks.url}", audiences: ["${ADMIN_AUDIENCE}"], algorithms: ["ES256"], jwks_refetch_per_minute: 600 }`,
  });
});
afterAll(async () => {
  await sidecar?.stop();
  await adminJwks?.close();
});

/** An admin JWT; `tenant` makes it tenant-scoped, `scope` defaults to the required one. */
function adminJwt(options: { tenant?: string; scope?: string; key?: TestKey } = {}) {
  return signToken(options.key ?? adminKey, {
    claims: {
      iss: ADMIN_ISSUER,
      aud: ADMIN_AUDIENCE,
      sub: 'alice@ops',
      scope: options.scope ?? 'mandate.admin',
      tenant: options.tenant,
    },
  });
}

async function admin(
  method: string,
  path: string,
  body?: unknown,
  bearer: string = ADMIN_TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sidecar.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const revoke = (body: Record<string, unknown>, bearer?: string) =>
  admin('POST', '/v1/revocations', body, bearer);

const nowSec = () => Math.floor(Date.now() / 1000);

/** A token for tickets.comment (allowed by base and acme_inc) with these claims over the defaults. */
function token(claims: Record<string, unknown> = {}) {
  return sidecar.token({ claims: { scope: 'tickets.write', iat: nowSec() - 60, ...claims } });
}

async function decide(tok: string, tenant = 'acme_inc') {
  const { body } = await postCheck(
    sidecar,
    { action: 'tickets.comment', resource: { type: 'ticket', id: 'T-1' }, tenant },
    { authorization: `Bearer ${tok}` },
  );
  return body;
}

async function allowed(tok: string, tenant = 'acme_inc'): Promise<boolean> {
  const body = await decide(tok, tenant);
  if (body['allow'] === true) return true;
  const codes = (body['reasons'] as { code: string }[]).map((r) => r.code);
  expect(codes).toEqual(['revoked']);
  return false;
}

const unique = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe('revocation through the admin API', () => {
  it('token: revokes one jti, also when the token was already verified and cached', async () => {
    const jti = unique('jti');
    const t1 = await token({ jti });
    const t2 = await token();
    expect(await allowed(t1)).toBe(true); // now in the verified-token cache
    const { status, body } = await revoke({ kind: 'token', jti, reason: 'leaked in a log' });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      id: expect.stringMatching(/^rv_/),
      kind: 'token',
      jti,
      reason: 'leaked in a log',
      created_by: expect.stringMatching(/^token:[0-9a-f]{8}$/),
      expires_at: expect.any(String),
    });
    expect(await allowed(t1)).toBe(false);
    expect(await allowed(t2)).toBe(true);
  });

  it('grant: every token minted from that consent, nothing else', async () => {
    const grant = unique('grant');
    const first = await token({ grant_id: grant });
    const second = await token({ grant_id: grant, sub: unique('other-user') });
    const otherGrant = await token({ grant_id: unique('grant') });
    expect((await revoke({ kind: 'grant', grant_id: grant })).status).toBe(201);
    expect(await allowed(first)).toBe(false);
    expect(await allowed(second)).toBe(false);
    expect(await allowed(otherGrant)).toBe(true);
  });

  it('subject: a user in a tenant; other users, other tenants and later tokens still work', async () => {
    const sub = unique('user');
    const before = await token({ sub });
    const other = await token({ sub: unique('user') });
    const otherTenant = await token({ sub, tenant: 'globex' });
    const { status, body } = await revoke({ kind: 'subject', tenant: 'acme_inc', sub });
    expect(status).toBe(201);
    expect(body).toMatchObject({ kind: 'subject', tenant: 'acme_inc', sub });
    expect(Date.parse(body['issued_before'] as string)).toBeLessThanOrEqual(Date.now());
    expect(await allowed(before)).toBe(false);
    expect(await allowed(other)).toBe(true);
    expect(await allowed(otherTenant, 'globex')).toBe(true);
    // Re-consent: a token issued after the revocation works again.
    const after = await token({ sub, iat: nowSec() + 2 });
    expect(await allowed(after)).toBe(true);
  });

  it('subject with issued_before: only tokens issued before that time', async () => {
    const sub = unique('user');
    const old = await token({ sub, iat: nowSec() - 600 });
    const recent = await token({ sub, iat: nowSec() - 60 });
    const cutoff = new Date((nowSec() - 300) * 1000).toISOString();
    expect(
      (await revoke({ kind: 'subject', tenant: 'acme_inc', sub, issued_before: cutoff })).status,
    ).toBe(201);
    expect(await allowed(old)).toBe(false);
    expect(await allowed(recent)).toBe(true);
  });

  it('client: an agent in a tenant only', async () => {
    const client = unique('agent');
    const t = await token({ client_id: client });
    const otherAgent = await token({ client_id: unique('agent') });
    const otherTenant = await token({ client_id: client, tenant: 'globex' });
    expect((await revoke({ kind: 'client', tenant: 'acme_inc', client_id: client })).status).toBe(
      201,
    );
    expect(await allowed(t)).toBe(false);
    expect(await allowed(otherAgent)).toBe(true);
    expect(await allowed(otherTenant, 'globex')).toBe(true);
  });

  it('tenant: a whole tenant issued before now; other tenants and later tokens work', async () => {
    const tenant = unique('tenant');
    const t = await token({ tenant, sub: unique('user') });
    const acme = await token();
    expect((await revoke({ kind: 'tenant', tenant, reason: 'integration disabled' })).status).toBe(
      201,
    );
    expect(await allowed(t, tenant)).toBe(false);
    expect(await allowed(acme)).toBe(true);
    expect(await allowed(await token({ tenant, iat: nowSec() + 2 }), tenant)).toBe(true);
  });

  it('actor: anywhere in the delegation chain', async () => {
    const bad = unique('bad-agent');
    const middle = await token({ act: { sub: 'front-agent', act: { sub: bad } } });
    const outer = await token({ act: { sub: bad } });
    const clean = await token({ act: { sub: 'front-agent', act: { sub: 'good-agent' } } });
    const { body } = await revoke({ kind: 'actor', actor: bad, absolute: true });
    expect(body).toMatchObject({ kind: 'actor', actor: bad, absolute: true });
    expect(body['expires_at']).toBeUndefined();
    expect(await allowed(middle)).toBe(false);
    expect(await allowed(outer)).toBe(false);
    // Not revoked (whether the policy lets this chain through is the policy's business).
    const codes = ((await decide(clean))['reasons'] as { code: string }[]).map((r) => r.code);
    expect(codes).not.toContain('revoked');
    // Absolute: tokens minted later through that actor are denied too.
    expect(await allowed(await token({ act: { sub: bad }, iat: nowSec() + 2 }))).toBe(false);
  });

  it('says only "revoked" to the caller; the audit record names the entry', async () => {
    const jti = unique('jti');
    const t = await token({ jti });
    const created = await revoke({ kind: 'token', jti, reason: 'secret-reason-text' });
    const id = created.body['id'] as string;
    const body = await decide(t);
    expect(body['reasons']).toEqual([
      { code: 'revoked', message: 'the access token has been revoked' },
    ]);
    expect(JSON.stringify(body)).not.toContain(id);
    expect(JSON.stringify(body)).not.toContain('secret-reason-text');
    const records = await sidecar.auditRecords();
    const decision = records.find((r) => r['decision_id'] === body['decision_id']);
    expect(decision).toMatchObject({
      type: 'decision',
      allow: false,
      jti,
      revocation: { id, kind: 'token' },
    });
    const adminRecord = records.find(
      (r) => r['type'] === 'admin' && (r['target'] as Record<string, unknown>)?.['id'] === id,
    );
    expect(adminRecord).toMatchObject({
      type: 'admin',
      action: 'revocation.create',
      outcome: 'ok',
      status: 201,
      principal: { kind: 'static', id: expect.stringMatching(/^token:/) },
      target: { kind: 'token', jti, reason: 'secret-reason-text' },
      time: expect.any(String),
    });
  });

  it('undo: DELETE lifts the revocation; a second DELETE is 404', async () => {
    const sub = unique('user');
    const t = await token({ sub });
    const id = (await revoke({ kind: 'subject', tenant: 'acme_inc', sub })).body['id'] as string;
    expect(await allowed(t)).toBe(false);
    expect((await admin('GET', `/v1/revocations/${id}`)).body).toMatchObject({ id, sub });
    const undone = await admin('DELETE', `/v1/revocations/${id}`);
    expect(undone).toMatchObject({ status: 200, body: { id, kind: 'subject' } });
    expect(await allowed(t)).toBe(true);
    expect((await admin('DELETE', `/v1/revocations/${id}`)).status).toBe(404);
    expect((await admin('GET', `/v1/revocations/${id}`)).status).toBe(404);
    const records = await sidecar.auditRecords();
    expect(
      records.filter(
        (r) =>
          r['action'] === 'revocation.delete' &&
          (r['target'] as Record<string, unknown>)['revocation_id'] === id,
      ),
    ).toMatchObject([
      { outcome: 'ok', status: 200 },
      { outcome: 'not_found', status: 404 },
    ]);
  });

  it('lists with filters by tenant and kind, and a limit', async () => {
    const tenant = unique('listed');
    await revoke({ kind: 'subject', tenant, sub: 'u1' });
    await revoke({ kind: 'client', tenant, client_id: 'c1' });
    await revoke({ kind: 'subject', tenant, sub: 'u2' });
    const all = await admin('GET', `/v1/revocations?tenant=${tenant}`);
    expect(all.status).toBe(200);
    expect(all.body['total']).toBe(3);
    expect((all.body['revocations'] as { sub?: string }[]).map((r) => r.sub)).toEqual([
      'u1',
      undefined,
      'u2',
    ]);
    const subjects = await admin('GET', `/v1/revocations?tenant=${tenant}&kind=subject&limit=1`);
    expect(subjects.body).toMatchObject({ total: 2, revocations: [{ sub: 'u1' }] });
    expect((await admin('GET', '/v1/revocations?kind=bogus')).status).toBe(400);
    expect((await admin('GET', '/v1/revocations?limit=0')).body['message']).toMatch(/^limit:/);
  });

  describe('bad input is a 400 naming the field, and stores nothing', () => {
    it.each([
      ['an unknown kind', { kind: 'everything', tenant: 'acme_inc' }, /^kind:/],
      ['a subject without tenant', { kind: 'subject', sub: 'u' }, /^tenant: is required/],
      ['a subject without sub', { kind: 'subject', tenant: 'acme_inc' }, /^sub: is required/],
      ['a token without jti', { kind: 'token' }, /^jti: is required/],
      ['a field of another kind', { kind: 'token', jti: 'j', sub: 'u' }, /^sub: is not allowed/],
      ['an unknown field', { kind: 'tenant', tenant: 'acme_inc', all: true }, /^all:/],
      [
        'issued_before in the future',
        {
          kind: 'tenant',
          tenant: 'acme_inc',
          issued_before: new Date(Date.now() + 3_600_000).toISOString(),
        },
        /^issued_before: must not be in the future/,
      ],
      [
        'issued_before too long ago to matter',
        { kind: 'tenant', tenant: 'acme_inc', issued_before: '2001-01-01T00:00:00Z' },
        /^issued_before: is so long ago/,
      ],
      [
        'issued_before that is not a time',
        { kind: 'tenant', tenant: 'acme_inc', issued_before: 'yesterday' },
        /^issued_before: must be an RFC 3339 time/,
      ],
      [
        'absolute on a subject',
        { kind: 'subject', tenant: 'acme_inc', sub: 'u', absolute: true },
        /^absolute:/,
      ],
      ['an over-long name', { kind: 'actor', actor: 'x'.repeat(300) }, /^actor:/],
      ['a number for a name', { kind: 'actor', actor: 7 }, /^actor:/],
      [
        'issued_before of another type',
        { kind: 'tenant', tenant: 'acme_inc', issued_before: true },
        /^issued_before: must be a string or an integer/,
      ],
    ])('%s', async (_name, body, message) => {
      const before = (await admin('GET', '/v1/revocations?limit=1')).body['total'];
      const res = await revoke(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request' });
      expect(res.body['message']).toMatch(message);
      expect((await admin('GET', '/v1/revocations?limit=1')).body['total']).toBe(before);
    });

    it('a huge payload is 413', async () => {
      const res = await revoke({ kind: 'tenant', tenant: 'acme_inc', reason: 'x'.repeat(20_000) });
      expect(res.status).toBe(413);
    });

    it('invalid attempts are audited too', async () => {
      await revoke({ kind: 'subject', tenant: 'acme_inc', marker: 'audit-me' });
      const records = await sidecar.auditRecords();
      expect(
        records.some(
          (r) =>
            r['type'] === 'admin' &&
            r['outcome'] === 'invalid' &&
            String(r['message']).startsWith('marker:'),
        ),
      ).toBe(true);
    });
  });

  describe('admin authentication', () => {
    it('refuses calls without a valid credential and changes nothing', async () => {
      const before = (await admin('GET', '/v1/revocations?limit=1')).body['total'];
      for (const bearer of [
        '',
        'not-the-token',
        await adminJwt({ key: await createTestKey('ES256') }),
      ]) {
        const res = await fetch(`${sidecar.adminUrl}/v1/revocations`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          },
          body: JSON.stringify({ kind: 'tenant', tenant: 'acme_inc' }),
        });
        expect(res.status).toBe(401);
      }
      expect((await admin('GET', '/v1/revocations?limit=1')).body['total']).toBe(before);
    });

    it('an admin JWT without the required scope is 403', async () => {
      const res = await revoke(
        { kind: 'tenant', tenant: 'acme_inc' },
        await adminJwt({ scope: 'openid' }),
      );
      expect(res.status).toBe(403);
      expect(res.body['message']).toMatch(/mandate\.admin/);
    });

    it('an admin JWT with the scope may act in every tenant, recorded as jwt:<sub>', async () => {
      const jwt = await adminJwt();
      const res = await revoke({ kind: 'subject', tenant: 'globex', sub: unique('user') }, jwt);
      expect(res.status).toBe(201);
      expect(res.body['created_by']).toBe('jwt:alice@ops');
    });

    it('a tenant-scoped admin acts only within its tenant', async () => {
      const scoped = await adminJwt({ tenant: 'acme_inc' });
      // The tenant defaults to its own.
      const sub = unique('user');
      const own = await revoke({ kind: 'subject', sub }, scoped);
      expect(own).toMatchObject({ status: 201, body: { tenant: 'acme_inc', sub } });
      const jti = await revoke({ kind: 'token', jti: unique('jti') }, scoped);
      expect(jti.body['tenant']).toBe('acme_inc');

      const other = await revoke({ kind: 'subject', tenant: 'globex', sub: 'u' }, scoped);
      expect(other.status).toBe(403);
      expect(other.body['message']).toMatch(/^tenant:/);

      const globexEntry = await revoke({ kind: 'subject', tenant: 'globex', sub: unique('u') });
      const id = globexEntry.body['id'] as string;
      expect((await admin('DELETE', `/v1/revocations/${id}`, undefined, scoped)).status).toBe(404);
      expect((await admin('GET', `/v1/revocations/${id}`)).status).toBe(200); // still there

      const list = await admin('GET', '/v1/revocations?limit=1000', undefined, scoped);
      expect(list.status).toBe(200);
      const tenants = new Set(
        (list.body['revocations'] as { tenant?: string }[]).map((r) => r.tenant),
      );
      expect([...tenants]).toEqual(['acme_inc']);
      expect((await admin('GET', '/v1/revocations?tenant=globex', undefined, scoped)).status).toBe(
        403,
      );

      const records = await sidecar.auditRecords();
      expect(
        records.find(
          (r) =>
            r['type'] === 'admin' &&
            r['outcome'] === 'forbidden' &&
            r['action'] === 'revocation.create',
        ),
      ).toMatchObject({
        status: 403,
        principal: { kind: 'jwt', sub: 'alice@ops', tenant: 'acme_inc' },
      });
    });
  });

  it('reports the store in /ready', async () => {
    const res = await fetch(`${sidecar.httpUrl}/ready`);
    const body = (await res.json()) as { components: Record<string, { state: string }> };
    expect(body.components['revocations']).toMatchObject({ state: 'OK' });
  });

  it('a restart forgets nothing (memory store, snapshot file)', async () => {
    const sub = unique('user');
    const t = await token({ sub });
    await revoke({ kind: 'subject', tenant: 'acme_inc', sub });
    const restarted = await startSidecar({
      keysFrom: sidecar,
      yaml: `revocation: { path: "${REVOCATIONS}" }`,
    });
    try {
      const { body } = await postCheck(
        restarted,
        { action: 'tickets.comment', tenant: 'acme_inc' },
        { authorization: `Bearer ${t}` },
      );
      expect(body['reasons']).toEqual([{ code: 'revoked', message: expect.any(String) }]);
    } finally {
      await restarted.stop();
    }
  });
});
