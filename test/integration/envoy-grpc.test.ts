// Envoy gRPC ext_authz v3 end to end: a client built from mandate's Envoy protos plays Envoy.
import { Client, credentials, status } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { AuthorizerClient, CheckRequest } from '../../src/gen/mandate/v1/authorizer.js';
import { HeaderValueOption_HeaderAppendAction as AppendAction } from '../../src/gen/envoy/config/core/v3/base.js';
import { createDpopClient } from '../helpers/dpop.js';
import { checkRequest, envoyCheck, envoyClient, headerMap } from '../helpers/envoy.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { COMPAT_YAML, ERROR_MODE_YAML, ROUTES_YAML } from './envoy-config.js';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe('route mapping mode', () => {
  let sidecar: Sidecar;
  let client: AuthorizationClient;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: ROUTES_YAML });
    client = envoyClient(sidecar.grpcTarget);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
  });

  it('allows a mapped route and forwards the identity upstream, overwriting forged copies', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.write tickets.write' } });
    const res = await envoyCheck(client, {
      method: 'PATCH',
      path: '/v1/contacts/c_42?notify=1',
      headers: { ...auth(token), 'x-mandate-subject': 'admin', 'x-mandate-tenant': 'globex' },
    });
    expect(res.status?.code).toBe(0);
    expect(res.deniedResponse).toBeUndefined();
    const set = headerMap(res.okResponse?.headers);
    expect(set).toMatchObject({
      'x-mandate-subject': 'user-1',
      'x-mandate-tenant': 'acme_inc',
      'x-mandate-client': 'agent-1',
      'x-mandate-scopes': 'contacts.write tickets.write',
    });
    const decisionId = set['x-mandate-decision-id'];
    expect(decisionId).toMatch(/^[0-9a-f-]{36}$/);
    for (const option of res.okResponse?.headers ?? []) {
      expect(option.appendAction).toBe(AppendAction.OVERWRITE_IF_EXISTS_OR_ADD);
    }
    expect(res.okResponse?.headersToRemove).toEqual([]);
    expect(res.dynamicMetadata).toEqual({ decision_id: decisionId });

    const records = await sidecar.auditRecords();
    expect(records.find((r) => r['decision_id'] === decisionId)).toMatchObject({
      transport: 'envoy_grpc',
      allow: true,
      action: 'contacts.update',
      resource: { type: 'contact', id: 'c_42' },
      tenant: 'acme_inc',
      request_id: 'req-envoy-1',
    });
  });

  it("takes a DPoP-bound token only with a fresh proof for the URL in Envoy's attributes", async () => {
    const dpopClient = await createDpopClient();
    const token = await sidecar.token({
      claims: { scope: 'contacts.write', cnf: { jkt: dpopClient.jkt } },
    });
    // checkRequest() says scheme https, host api.example.com.
    const proofFor = (htu: string) => dpopClient.proof(token, 'PATCH', htu);
    const send = async (dpop: string) =>
      envoyCheck(client, {
        method: 'PATCH',
        path: '/v1/contacts/c_42?notify=1',
        headers: { authorization: `DPoP ${token}`, dpop },
      });
    const proof = await proofFor('https://api.example.com/v1/contacts/c_42');
    expect((await send(proof)).status?.code).toBe(0);
    for (const res of [
      await send(proof),
      await send(await proofFor('http://api.example.com/v1/contacts/c_42')),
    ]) {
      expect(res.deniedResponse?.status?.code).toBe(401);
      expect(JSON.parse(res.deniedResponse?.body ?? '{}').reasons[0].code).toBe(
        'token_binding_unverified',
      );
    }
  });

  it('removes identity headers it does not set, so none can be forged', async () => {
    const token = await sidecar.token({
      claims: { scope: 'contacts.read', tenant: undefined, dpopClientid: 'agent-1' },
    });
    const res = await envoyCheck(client, {
      method: 'GET',
      path: '/v1/contacts',
      headers: { ...auth(token), 'x-mandate-tenant': 'acme_inc' },
    });
    expect(res.status?.code).toBe(0);
    expect(res.okResponse?.headersToRemove).toEqual(['x-mandate-tenant']);
    expect(headerMap(res.okResponse?.headers)['x-mandate-tenant']).toBeUndefined();
  });

  it('answers a missing token with 401 and a bare Bearer challenge', async () => {
    const res = await envoyCheck(client, { method: 'GET', path: '/v1/contacts' });
    expect(res.status?.code).toBe(16);
    expect(res.deniedResponse?.status?.code).toBe(401);
    const headers = headerMap(res.deniedResponse?.headers);
    expect(headers['www-authenticate']).toBe('Bearer');
    expect(headers['content-type']).toBe('application/json');
    const body = JSON.parse(res.deniedResponse?.body ?? '{}');
    expect(body).toEqual({
      decision_id: headers['x-mandate-decision-id'],
      reasons: [{ code: 'token_missing', message: expect.any(String) }],
    });
    expect(res.okResponse).toBeUndefined();
  });

  it('answers an invalid token with 401 invalid_token and a description', async () => {
    const token = await sidecar.token();
    const tampered = `${token.slice(0, -4)}AAAA`;
    for (const bad of ['x.y.z', tampered]) {
      const res = await envoyCheck(client, {
        method: 'GET',
        path: '/v1/contacts',
        headers: auth(bad),
      });
      expect(res.deniedResponse?.status?.code).toBe(401);
      expect(headerMap(res.deniedResponse?.headers)['www-authenticate']).toMatch(
        /^Bearer error="invalid_token", error_description="[^"]+"$/,
      );
    }
  });

  it('answers insufficient scope with 403 insufficient_scope naming the scope', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const res = await envoyCheck(client, {
      method: 'PATCH',
      path: '/v1/contacts/c_1',
      headers: auth(token),
    });
    expect(res.status?.code).toBe(7);
    expect(res.deniedResponse?.status?.code).toBe(403);
    const challenge = headerMap(res.deniedResponse?.headers)['www-authenticate'];
    expect(challenge).toMatch(/^Bearer error="insufficient_scope", error_description="[^"]+"/);
    expect(challenge).toContain('scope="contacts.update"');
    expect(JSON.parse(res.deniedResponse?.body ?? '{}').reasons[0].code).toBe('insufficient_scope');
  });

  it('answers a tenant mismatch (path or header) and a policy deny with 403 and the JSON body', async () => {
    const token = await sidecar.token({ claims: { scope: 'tickets.read billing.view' } });
    const byPath = await envoyCheck(client, {
      method: 'GET',
      path: '/v1/orgs/globex/tickets/T-1',
      headers: auth(token),
    });
    expect(byPath.deniedResponse?.status?.code).toBe(403);
    const body = JSON.parse(byPath.deniedResponse?.body ?? '{}');
    expect(body.reasons[0].code).toBe('tenant_mismatch');
    expect(body.decision_id).toBe(
      headerMap(byPath.deniedResponse?.headers)['x-mandate-decision-id'],
    );
    expect(headerMap(byPath.deniedResponse?.headers)['www-authenticate']).toBeUndefined();

    const byHeader = await envoyCheck(client, {
      method: 'GET',
      path: '/v1/contacts',
      headers: { ...auth(token), 'x-tenant': 'globex' },
    });
    expect(JSON.parse(byHeader.deniedResponse?.body ?? '{}').reasons[0].code).toBe(
      'tenant_mismatch',
    );

    const same = await envoyCheck(client, {
      method: 'HEAD',
      path: '/v1/orgs/acme_inc/tickets/T-1',
      headers: auth(token),
    });
    expect(same.status?.code).toBe(0);
  });

  it('denies an unmapped route with route_unmapped, after the token', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const res = await envoyCheck(client, {
      method: 'DELETE',
      path: '/v1/contacts',
      headers: auth(token),
    });
    expect(res.deniedResponse?.status?.code).toBe(403);
    expect(JSON.parse(res.deniedResponse?.body ?? '{}').reasons).toEqual([
      { code: 'route_unmapped', message: 'no route maps DELETE /v1/contacts' },
    ]);
    const anonymous = await envoyCheck(client, { method: 'DELETE', path: '/v1/contacts' });
    expect(anonymous.deniedResponse?.status?.code).toBe(401);
    // Dot segments never match a mapping.
    const dotted = await envoyCheck(client, {
      method: 'PATCH',
      path: '/v1/contacts/../admin',
      headers: auth(await sidecar.token({ claims: { scope: 'contacts.write' } })),
    });
    expect(JSON.parse(dotted.deniedResponse?.body ?? '{}').reasons[0].code).toBe('route_unmapped');
  });

  it('fills action and resource from captures, including a rest capture and the method', async () => {
    const token = await sidecar.token({ claims: { scope: 'files.put' } });
    const res = await envoyCheck(client, {
      method: 'PUT',
      path: '/v1/files/a/b%20c.txt',
      headers: auth(token),
    });
    expect(res.status?.code).toBe(0);
    const id = headerMap(res.okResponse?.headers)['x-mandate-decision-id'];
    const record = (await sidecar.auditRecords()).find((r) => r['decision_id'] === id);
    expect(record).toMatchObject({
      action: 'files.put',
      resource: { type: 'file', id: 'a/b c.txt' },
    });
  });

  it('shadows a dry-run tenant: decides and audits the deny, lets the request through', async () => {
    const token = await sidecar.token({ claims: { tenant: 'initech', scope: 'contacts.write' } });
    const res = await envoyCheck(client, {
      method: 'PATCH',
      path: '/v1/contacts/c_9',
      headers: auth(token),
    });
    expect(res.status?.code).toBe(0);
    const set = headerMap(res.okResponse?.headers);
    // A shadowed deny vouches for nobody upstream.
    expect(set['x-mandate-subject']).toBeUndefined();
    expect(res.okResponse?.headersToRemove).toContain('x-mandate-subject');
    const id = set['x-mandate-decision-id'];
    expect(res.dynamicMetadata).toMatchObject({
      decision_id: id,
      dry_run: true,
      would_allow: false,
    });
    const record = (await sidecar.auditRecords()).find((r) => r['decision_id'] === id);
    expect(record).toMatchObject({ allow: false, dry_run: true, tenant: 'initech' });

    // A forged token naming the shadowed tenant is not shadowed: the tenant was never verified.
    const forged = `${token.slice(0, -4)}AAAA`;
    const refused = await envoyCheck(client, {
      method: 'PATCH',
      path: '/v1/contacts/c_9',
      headers: auth(forged),
    });
    expect(refused.deniedResponse?.status?.code).toBe(401);

    // Other tenants are enforced, and their records carry no dry_run.
    const acme = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const enforced = await envoyCheck(client, {
      method: 'PATCH',
      path: '/v1/contacts/c_9',
      headers: auth(acme),
    });
    expect(enforced.deniedResponse?.status?.code).toBe(403);
    const enforcedId = headerMap(enforced.deniedResponse?.headers)['x-mandate-decision-id'];
    const enforcedRecord = (await sidecar.auditRecords()).find(
      (r) => r['decision_id'] === enforcedId,
    );
    expect(enforcedRecord?.['dry_run']).toBeUndefined();
  });

  it('handles ~20 realistic headers with an 8 KiB value; denies a 2 MiB request with 413, refuses a 5 MiB one', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const headers: Record<string, string> = { ...auth(token), 'x-big': 'v'.repeat(8192) };
    for (let i = 0; i < 18; i++) headers[`x-header-${i}`] = `value-${i}`;
    const res = await envoyCheck(client, { method: 'GET', path: '/v1/contacts', headers });
    expect(res.status?.code).toBe(0);

    // Over envoy.grpc_max_request_bytes (1 MiB): a denial, not an RPC error Envoy would count as
    // its own failure (and let through under failure_mode_allow).
    const large = await envoyCheck(client, {
      method: 'GET',
      path: '/v1/contacts',
      headers: auth(token),
      body: 'x'.repeat(2 * 1024 * 1024),
    });
    expect(large.status?.code).toBe(7);
    expect(large.deniedResponse?.status?.code).toBe(413);
    expect(JSON.parse(large.deniedResponse?.body ?? '{}').reasons[0]).toMatchObject({
      code: 'request_invalid',
      message: expect.stringContaining('envoy.grpc_max_request_bytes'),
    });
    // Beyond four times the limit the transport refuses it.
    const huge = envoyCheck(client, {
      method: 'GET',
      path: '/v1/contacts',
      headers: auth(token),
      body: 'x'.repeat(5 * 1024 * 1024),
    });
    await expect(huge).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    // mandate's own Check keeps its 1 MiB limit on the same listener.
    const own = new AuthorizerClient(sidecar.grpcTarget, credentials.createInsecure());
    const ownCheck = new Promise((resolve, reject) =>
      own.check(
        CheckRequest.fromPartial({ token: 'x'.repeat(2 * 1024 * 1024), action: 'a' }),
        (err, r) => (err ? reject(err) : resolve(r)),
      ),
    ).finally(() => own.close());
    await expect(ownCheck).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    // The listener keeps serving.
    expect(
      (await envoyCheck(client, { method: 'GET', path: '/v1/contacts', headers })).status?.code,
    ).toBe(0);
  });

  it('reports the Envoy service SERVING on grpc.health.v1', async () => {
    const method = healthService['Check'];
    if (method === undefined) throw new Error('grpc-health-check has no Check method');
    const plain = new Client(sidecar.grpcTarget, credentials.createInsecure());
    const state = await new Promise<string>((resolve, reject) =>
      plain.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { service: 'envoy.service.auth.v3.Authorization' },
        (err, response) => (err ? reject(err) : resolve((response as { status: string }).status)),
      ),
    ).finally(() => plain.close());
    expect(state).toBe('SERVING');
  });
});

describe('OPA-Envoy compatibility mode', () => {
  let sidecar: Sidecar;
  let client: AuthorizationClient;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: COMPAT_YAML });
    client = envoyClient(sidecar.grpcTarget);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
  });

  async function check(
    method: string,
    path: string,
    extra: {
      headers?: Record<string, string>;
      body?: string;
      claims?: Record<string, unknown>;
    } = {},
  ) {
    const token = await sidecar.token({ claims: extra.claims ?? {} });
    return envoyCheck(client, {
      method,
      path,
      headers: { ...auth(token), ...extra.headers },
      ...(extra.body !== undefined ? { body: extra.body } : {}),
    });
  }

  it('example 1: a header check', async () => {
    expect(
      (await check('GET', '/headercheck', { headers: { 'x-ext-auth-allow': 'yes' } })).status?.code,
    ).toBe(0);
    const denied = await check('GET', '/headercheck', { headers: { 'x-ext-auth-allow': 'no' } });
    expect(denied.deniedResponse?.status?.code).toBe(403);
    expect(JSON.parse(denied.deniedResponse?.body ?? '{}').reasons[0]).toEqual({
      code: 'policy_denied',
      message: 'denied by the policy at envoy/authz/allow',
    });
  });

  it('example 2: path-based RBAC over parsed_path with the verified token', async () => {
    expect((await check('GET', '/people', { claims: { role: 'guest' } })).status?.code).toBe(0);
    expect(
      (await check('POST', '/people', { claims: { role: 'guest' } })).deniedResponse?.status?.code,
    ).toBe(403);
    expect((await check('POST', '/people', { claims: { role: 'admin' } })).status?.code).toBe(0);
    // mandate still verifies the token first: no token, no policy.
    const anonymous = await envoyCheck(client, { method: 'GET', path: '/people' });
    expect(anonymous.deniedResponse?.status?.code).toBe(401);
  });

  it('example 3: object results set status, body and headers, or shape the allowed request', async () => {
    const denied = await check('GET', '/premium/report');
    expect(denied.deniedResponse?.status?.code).toBe(402);
    expect(denied.deniedResponse?.body).toBe('upgrade to premium');
    expect(headerMap(denied.deniedResponse?.headers)['x-upgrade']).toBe('premium');

    const shaped = await check('GET', '/shaped?debug=1');
    expect(shaped.status?.code).toBe(0);
    const ok = shaped.okResponse;
    const upstream = headerMap(ok?.headers);
    expect(upstream['x-policy']).toBe('compat');
    // The policy cannot overwrite mandate's identity headers.
    expect(upstream['x-mandate-subject']).toBe('user-1');
    expect(ok?.headersToRemove).toContain('x-internal');
    expect(headerMap(ok?.responseHeadersToAdd)).toEqual({ 'x-served-by': 'mandate' });
    expect(ok?.queryParametersToSet).toEqual([{ key: 'lang', value: 'en' }]);
    expect(ok?.queryParametersToRemove).toEqual(['debug']);
    expect(shaped.dynamicMetadata).toMatchObject({
      plan: 'gold',
      decision_id: upstream['x-mandate-decision-id'],
    });
  });

  it("passes mandate's additions and OPA-Envoy's version to the policy", async () => {
    expect((await check('GET', '/whoami')).status?.code).toBe(0);
    const records = await sidecar.auditRecords();
    expect(records.at(-1)).toMatchObject({
      decided_by: 'compat',
      policy: { compat: expect.any(String) },
    });
  });

  it('parses JSON and form bodies, reports truncated bodies, and answers malformed JSON with 400', async () => {
    const json = { 'content-type': 'application/json' };
    expect(
      (await check('POST', '/payments', { headers: json, body: '{"amount": 50}' })).status?.code,
    ).toBe(0);
    expect(
      (await check('POST', '/payments', { headers: json, body: '{"amount": 500}' })).deniedResponse
        ?.status?.code,
    ).toBe(403);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await check('POST', '/forms', { headers: form, body: 'kind=ok' })).status?.code).toBe(
      0,
    );
    const partial = await check('POST', '/uploads', {
      headers: { ...json, 'content-length': '100000' },
      body: '{"partial": ',
    });
    expect(partial.status?.code).toBe(0);

    const malformed = await check('POST', '/payments', { headers: json, body: '{"amount": ' });
    expect(malformed.deniedResponse?.status?.code).toBe(400);
    expect(malformed.status?.code).toBe(7);
    const body = JSON.parse(malformed.deniedResponse?.body ?? '{}');
    expect(body.reasons[0].code).toBe('request_invalid');
    expect(body.reasons[0].message).toMatch(/^body: not valid JSON/);
  });

  it('gives the policy numbers as numbers, time as {seconds, nanos} and source_principal', async () => {
    expect(
      (await check('POST', '/sized', { body: 'a'.repeat(5) })).deniedResponse?.status?.code,
    ).toBe(403);
    expect((await check('POST', '/sized', { body: 'a'.repeat(20) })).status?.code).toBe(0);
    expect((await check('GET', '/timed')).status?.code).toBe(0);
    expect((await check('GET', '/principal')).status?.code).toBe(0);
  });

  it('refuses a path or query OPA-Envoy cannot decode with 400, without evaluating', async () => {
    for (const path of ['/people/%zz', '/people?a=1;b=2', '/people?a=%zz']) {
      const res = await check('GET', path, { claims: { role: 'admin' } });
      expect(res.status?.code).toBe(7);
      expect(res.deniedResponse?.status?.code).toBe(400);
      expect(JSON.parse(res.deniedResponse?.body ?? '{}').reasons[0].code).toBe('request_invalid');
    }
  });

  it('denies a result without allowed, or with a status Envoy does not know, applying none of it', async () => {
    for (const path of ['/noallowed', '/teapot']) {
      const res = await check('GET', path);
      expect(res.status?.code).toBe(7);
      expect(res.deniedResponse?.status?.code).toBe(403);
      expect(headerMap(res.deniedResponse?.headers)).not.toHaveProperty('x-leak');
      expect(res.dynamicMetadata).not.toHaveProperty('leak');
      const body = JSON.parse(res.deniedResponse?.body ?? '{}');
      expect(body.reasons[0].code).toBe('policy_denied');
      expect(body.reasons[0].message).toMatch(/malformed/);
    }
    expect(await sidecar.rawOutput()).toMatch(
      /http_status must be an HTTP status code Envoy accepts/,
    );
  });
});

describe('error_response mode', () => {
  let sidecar: Sidecar;
  let client: AuthorizationClient;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: ERROR_MODE_YAML, jwksFailure: 503 });
    client = envoyClient(sidecar.grpcTarget);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
  });

  it('fails the RPC with UNAVAILABLE and an explanation, so failure_mode_allow applies', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const call = envoyCheck(
      client,
      checkRequest({ method: 'GET', path: '/v1/contacts', headers: auth(token) }),
    );
    await expect(call).rejects.toMatchObject({
      code: status.UNAVAILABLE,
      details: expect.stringMatching(/^jwks_unavailable: .+ \(decision [0-9a-f-]{36}\)$/),
    });
    const records = await sidecar.auditRecords();
    expect(records.at(-1)).toMatchObject({ allow: false, reasons: [{ code: 'jwks_unavailable' }] });
  });
});
