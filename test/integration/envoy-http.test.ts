// Envoy HTTP ext_authz end to end: the original method, path (under the prefix), headers and body in; 200 or a denial out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopClient } from '../helpers/dpop.js';
import { envoyHttp } from '../helpers/envoy.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { COMPAT_YAML, ERROR_MODE_YAML, ROUTES_YAML } from './envoy-config.js';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe('route mapping mode over HTTP', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: ROUTES_YAML });
  });
  afterAll(async () => {
    await sidecar?.stop();
  });

  it('answers 200 with the identity headers and lists the ones to remove', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.write' } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'PATCH',
      path: '/v1/contacts/c_7?x=1',
      id: 'req-http-1',
      headers: {
        ...auth(token),
        'content-type': 'application/json',
        'x-mandate-subject': 'admin',
      },
      body: '{"name":"Ada"}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mandate-subject')).toBe('user-1');
    expect(res.headers.get('x-mandate-tenant')).toBe('acme_inc');
    expect(res.headers.get('x-mandate-client')).toBe('agent-1');
    expect(res.headers.get('x-mandate-scopes')).toBe('contacts.write');
    const id = res.headers.get('x-mandate-decision-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-envoy-auth-headers-to-remove')).toBeNull();
    const record = (await sidecar.auditRecords()).find((r) => r['decision_id'] === id);
    expect(record).toMatchObject({
      transport: 'envoy_http',
      action: 'contacts.update',
      resource: { type: 'contact', id: 'c_7' },
      request_id: 'req-http-1',
    });
  });

  it('asks Envoy to remove identity headers it does not set', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read', tenant: undefined } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/contacts',
      headers: auth(token),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-envoy-auth-headers-to-remove')).toBe('x-mandate-tenant');
  });

  it('denies with 401 / 403 / WWW-Authenticate and the JSON body', async () => {
    const missing = await envoyHttp(sidecar.httpUrl, { method: 'GET', path: '/v1/contacts' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(missing.text).reasons[0].code).toBe('token_missing');

    const invalid = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/contacts',
      headers: auth('x.y.z'),
    });
    expect(invalid.status).toBe(401);
    expect(invalid.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);

    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const scope = await envoyHttp(sidecar.httpUrl, {
      method: 'PATCH',
      path: '/v1/contacts/c_1',
      headers: auth(token),
    });
    expect(scope.status).toBe(403);
    expect(scope.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(scope.headers.get('www-authenticate')).toContain('scope="contacts.update"');

    const tenant = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/orgs/globex/tickets/T-1',
      headers: auth(token),
    });
    expect(tenant.status).toBe(403);
    expect(tenant.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(tenant.text);
    expect(body).toEqual({
      decision_id: tenant.headers.get('x-mandate-decision-id'),
      reasons: [{ code: 'tenant_mismatch', message: expect.any(String) }],
    });

    const unmapped = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/',
      headers: auth(token),
    });
    expect(unmapped.status).toBe(403);
    expect(JSON.parse(unmapped.text).reasons[0].code).toBe('route_unmapped');
  });

  it('takes a DPoP-bound token only with a fresh proof by its key for this very request', async () => {
    const dpopClient = await createDpopClient();
    const token = await sidecar.token({
      claims: { scope: 'contacts.write', cnf: { jkt: dpopClient.jkt } },
    });
    const proofFor = (htm: string, htu: string) => dpopClient.proof(token, htm, htu);
    const origin = { 'x-forwarded-host': 'api.example.com', 'x-forwarded-proto': 'https' };
    const send = (authorization: string, dpop?: string) =>
      envoyHttp(sidecar.httpUrl, {
        method: 'PATCH',
        path: '/v1/contacts/c_7?x=1',
        headers: { ...origin, authorization, ...(dpop ? { dpop } : {}) },
      });
    const codeOf = (res: { text: string }) =>
      (JSON.parse(res.text) as { reasons: { code: string }[] }).reasons[0]?.code;

    const proof = await proofFor('PATCH', 'https://api.example.com/v1/contacts/c_7');
    const ok = await send(`DPoP ${token}`, proof);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-mandate-subject')).toBe('user-1');

    const refusals = [
      ['the same proof again', await send(`DPoP ${token}`, proof)],
      ['no proof', await send(`DPoP ${token}`)],
      [
        'the Bearer scheme',
        await send(
          `Bearer ${token}`,
          await proofFor('PATCH', 'https://api.example.com/v1/contacts/c_7'),
        ),
      ],
      [
        'a proof for another path',
        await send(
          `DPoP ${token}`,
          await proofFor('PATCH', 'https://api.example.com/v1/contacts/c_8'),
        ),
      ],
      [
        'a proof for another method',
        await send(
          `DPoP ${token}`,
          await proofFor('GET', 'https://api.example.com/v1/contacts/c_7'),
        ),
      ],
    ] as const;
    for (const [what, res] of refusals) {
      expect(res.status, what).toBe(401);
      expect(codeOf(res), what).toBe('token_binding_unverified');
      // RFC 9449 §7.1: the challenge speaks the scheme the token came with.
      expect(res.headers.get('www-authenticate'), what).toMatch(
        what === 'the Bearer scheme'
          ? /^Bearer error="invalid_token"/
          : /^DPoP error="invalid_dpop_proof"/,
      );
    }
  });

  it('refuses two Authorization headers with 400 request_invalid (Node keeps only the first)', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    for (const second of [`Bearer ${token}`, 'Bearer forged']) {
      const res = await rawHttp(sidecar.httpUrl, 'GET', '/envoy/authz/v1/contacts', [
        ['authorization', `Bearer ${token}`],
        ['authorization', second],
      ]);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).reasons[0].code).toBe('request_invalid');
    }
  });

  it('shadows a dry-run tenant over HTTP too', async () => {
    const token = await sidecar.token({ claims: { tenant: 'initech', scope: 'contacts.write' } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'PATCH',
      path: '/v1/contacts/c_9',
      headers: auth(token),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mandate-subject')).toBeNull();
    const id = res.headers.get('x-mandate-decision-id');
    const record = (await sidecar.auditRecords()).find((r) => r['decision_id'] === id);
    expect(record).toMatchObject({ allow: false, dry_run: true, transport: 'envoy_http' });
  });

  it('handles ~20 headers with an 8 KiB value; refuses oversized headers (431) and a 4 MiB body (413)', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const headers: Record<string, string> = { ...auth(token), 'x-big': 'v'.repeat(8192) };
    for (let i = 0; i < 18; i++) headers[`x-header-${i}`] = `value-${i}`;
    expect(
      (await envoyHttp(sidecar.httpUrl, { method: 'GET', path: '/v1/contacts', headers })).status,
    ).toBe(200);

    const tooBig = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/contacts',
      headers: { ...auth(token), 'x-huge': 'v'.repeat(40_000) },
    });
    expect(tooBig.status).toBe(431);

    const body = await envoyHttp(sidecar.httpUrl, {
      method: 'POST',
      path: '/v1/tickets/T-1/comments',
      headers: { ...auth(token), 'content-type': 'text/plain' },
      body: 'x'.repeat(4 * 1024 * 1024),
    });
    expect(body.status).toBe(413);
    // Still serving.
    expect(
      (await envoyHttp(sidecar.httpUrl, { method: 'GET', path: '/v1/contacts', headers })).status,
    ).toBe(200);
  });

  it('leaves /v1/check and its JSON parsing alone', async () => {
    const res = await fetch(`${sidecar.httpUrl}/v1/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"action":"contacts.read"}',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { reasons: { code: string }[] }).reasons[0]?.code).toBe(
      'token_missing',
    );
  });
});

describe('OPA-Envoy compatibility mode over HTTP', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: COMPAT_YAML });
  });
  afterAll(async () => {
    await sidecar?.stop();
  });

  async function call(
    method: string,
    path: string,
    extra: {
      headers?: Record<string, string>;
      body?: string;
      claims?: Record<string, unknown>;
    } = {},
  ) {
    const token = await sidecar.token({ claims: extra.claims ?? {} });
    return envoyHttp(sidecar.httpUrl, {
      method,
      path,
      headers: { ...auth(token), ...extra.headers },
      ...(extra.body !== undefined ? { body: extra.body } : {}),
    });
  }

  it('runs the documentation examples: header check, RBAC over parsed_path, object result', async () => {
    expect(
      (await call('GET', '/headercheck', { headers: { 'x-ext-auth-allow': 'yes' } })).status,
    ).toBe(200);
    expect((await call('GET', '/headercheck')).status).toBe(403);
    expect((await call('GET', '/people', { claims: { role: 'guest' } })).status).toBe(200);
    expect((await call('POST', '/people', { claims: { role: 'guest' } })).status).toBe(403);
    const premium = await call('GET', '/premium');
    expect(premium.status).toBe(402);
    expect(premium.text).toBe('upgrade to premium');
    expect(premium.headers.get('x-upgrade')).toBe('premium');
    const shaped = await call('GET', '/shaped');
    expect(shaped.status).toBe(200);
    expect(shaped.headers.get('x-policy')).toBe('compat');
    expect(shaped.headers.get('x-envoy-auth-headers-to-remove')).toContain('x-internal');
  });

  it('parses JSON, form and truncated bodies; malformed JSON is a 400 with a clear body', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await call('POST', '/payments', { headers: json, body: '{"amount": 5}' })).status).toBe(
      200,
    );
    expect(
      (await call('POST', '/payments', { headers: json, body: '{"amount": 500}' })).status,
    ).toBe(403);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await call('POST', '/forms', { headers: form, body: 'kind=ok' })).status).toBe(200);
    const partial = await call('POST', '/uploads', {
      headers: { ...json, 'x-envoy-auth-partial-body': 'true' },
      body: '{"cut": ',
    });
    expect(partial.status).toBe(200);
    const malformed = await call('POST', '/payments', { headers: json, body: '{"amount": ' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text).reasons[0]).toMatchObject({
      code: 'request_invalid',
      message: expect.stringMatching(/^body: not valid JSON/),
    });
  });

  it('gives the policy the same document gRPC would: size as a number, time as {seconds, nanos}', async () => {
    expect((await call('POST', '/sized', { body: 'a'.repeat(5) })).status).toBe(403);
    expect((await call('POST', '/sized', { body: 'a'.repeat(20) })).status).toBe(200);
    expect((await call('GET', '/timed')).status).toBe(200);
    // Envoy's HTTP call does not carry the source peer: no principal, so the rule does not match.
    expect((await call('GET', '/principal')).status).toBe(403);
  });

  it('refuses a path or query OPA-Envoy cannot decode with 400, without evaluating', async () => {
    // A path that is not a valid URL never reaches the adapter: the HTTP server answers 400 itself.
    expect((await call('GET', '/people/%zz', { claims: { role: 'admin' } })).status).toBe(400);
    const res = await call('GET', '/people?a=1;b=2', { claims: { role: 'admin' } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).reasons[0]).toMatchObject({
      code: 'request_invalid',
      message: 'request path: invalid semicolon separator in query',
    });
  });

  it('denies a malformed result without applying its headers or body', async () => {
    for (const path of ['/noallowed', '/teapot']) {
      const res = await call('GET', path);
      expect(res.status).toBe(403);
      expect(res.headers.get('x-leak')).toBeNull();
      expect(JSON.parse(res.text).reasons[0].message).toMatch(/malformed/);
    }
  });
});

describe('error_response mode and listener dry-run over HTTP', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: ERROR_MODE_YAML, jwksFailure: 503 });
  });
  afterAll(async () => {
    await sidecar?.stop();
  });

  it('lets everything through on a dry-run listener, recording the real decision', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/v1/contacts',
      headers: auth(token),
    });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-mandate-decision-id');
    const record = (await sidecar.auditRecords()).find((r) => r['decision_id'] === id);
    expect(record).toMatchObject({
      allow: false,
      dry_run: true,
      reasons: [{ code: 'jwks_unavailable' }],
    });
  });
});
