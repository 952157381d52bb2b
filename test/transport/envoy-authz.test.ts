// The shared Envoy adapter against a scripted decider: failure modes, the 503 path, and the wire shapes they take.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Decider, Decision } from '../../src/core/decision.js';
import type { AuthzRequest } from '../../src/core/request.js';
import type { DecideTerms } from '../../src/core/terms.js';
import { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { createRouteTable } from '../../src/transport/route-table.js';
import { createEnvoyAuthorizer, type EnvoyAuthorizer } from '../../src/transport/envoy/authz.js';
import { presentedToken } from '../../src/transport/envoy/request.js';
import { envoyCallOf } from '../../src/transport/envoy/grpc.js';
import { registerEnvoyHttpRoutes } from '../../src/transport/envoy/http.js';
import { compatDocumentOf } from '../../src/transport/envoy/input.js';
import { checkRequest } from '../helpers/envoy.js';

/** What the adapter handed the pipeline: the request and the terms it settled itself. */
type Asked = AuthzRequest & DecideTerms;

function scripted(answer: (r: AuthzRequest) => Decision | Promise<Decision>) {
  const seen: Asked[] = [];
  const decider: Decider = {
    async decide(request) {
      seen.push(request);
      return answer(request);
    },
    async decideWith(request, terms) {
      seen.push({ ...request, ...terms });
      return answer(request);
    },
  };
  return { decider, seen };
}

const internal: Decision = {
  allow: false,
  decisionId: 'd-1',
  reasons: [{ code: 'internal_error', message: 'the decision could not be evaluated' }],
  latencyUs: 1,
};

function authorizer(decider: Decider, yaml = '') {
  const config = parseConfig(`dev: { enabled: true, state_dir: /tmp/mandate-envoy-unit }\n${yaml}`);
  return createEnvoyAuthorizer({
    decider,
    config: config.envoy,
    routes: createRouteTable(config.envoy.routes),
    compat: config.envoy.compat.enabled,
  });
}

const call = envoyCallOf(checkRequest({ method: 'GET', path: '/v1/x?a=1&a=2&b=%20' }));

describe('Envoy adapter failure handling', () => {
  it('answers an internal failure with a 503 denial carrying the reason (deny mode)', async () => {
    const verdict = await authorizer(scripted(() => internal).decider).authorize(call);
    expect(verdict).toMatchObject({ kind: 'deny', status: 503, decisionId: 'd-1' });
    if (verdict.kind !== 'deny') throw new Error('expected a deny');
    expect(JSON.parse(verdict.body).reasons[0].code).toBe('internal_error');
  });

  it('answers an error verdict in error_response mode, and fails closed when decide() throws', async () => {
    const errorMode = authorizer(
      scripted(() => internal).decider,
      'envoy: { on_error: error_response }',
    );
    expect(await errorMode.authorize(call)).toMatchObject({ kind: 'error', decisionId: 'd-1' });
    const throwing = authorizer(
      scripted(() => {
        throw new Error('bug');
      }).decider,
    );
    const verdict = await throwing.authorize(call);
    expect(verdict).toMatchObject({ kind: 'deny', status: 503 });
  });

  it('HTTP mode turns an error verdict into a bare 503 so Envoy counts a failure', async () => {
    const app = Fastify();
    registerEnvoyHttpRoutes(
      app,
      authorizer(scripted(() => internal).decider, 'envoy: { on_error: error_response }'),
      { prefix: '/envoy/authz', bodyLimitBytes: 1024 * 1024 },
    );
    const res = await app.inject({ method: 'DELETE', url: '/envoy/authz/v1/x' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'unavailable' });
    await app.close();
  });

  it('builds the request: derived action for unmapped routes in compat mode, DPoP-scheme tokens', async () => {
    const { decider, seen } = scripted(() => ({ ...internal, allow: true, reasons: [] }));
    await authorizer(decider, 'envoy: { compat: { enabled: true } }').authorize(
      envoyCallOf(
        checkRequest({ method: 'POST', path: '/a/b', headers: { authorization: 'DPoP t0k' } }),
      ),
    );
    expect(seen[0]).toMatchObject({
      token: 't0k',
      action: 'http.post',
      resource: { type: 'http_path', id: '/a/b' },
      transport: 'envoy_grpc',
      requestId: 'req-envoy-1',
    });
    expect(seen[0]?.refusal).toBeUndefined();
    expect(seen[0]?.compatDocument).toMatchObject({ parsed_path: ['a', 'b'] });
    expect(presentedToken({ authorization: 'Basic abc' }, ['authorization'])).toBeUndefined();
  });
});

/** Envoy's HTTP ext_authz call through the real route registration, in process. */
async function overHttp(
  decider: Decider,
  yaml = '',
  headers: Record<string, string> = {},
  onError: 'deny' | 'error_response' = 'deny',
) {
  const app = Fastify();
  registerEnvoyHttpRoutes(app, authorizer(decider, yaml), {
    prefix: '/envoy/authz',
    bodyLimitBytes: 1024 * 1024,
    onError,
  });
  const res = await app.inject({ method: 'GET', url: '/envoy/authz/v1/x', headers });
  await app.close();
  return res;
}

const subject = { sub: 'user-1', tenant: 'acme_inc', clientId: 'agent-1', scopes: [], act: [] };
const allowing = (s: Partial<typeof subject> = {}): Decision => ({
  allow: true,
  decisionId: 'd-2',
  reasons: [],
  subject: { ...subject, ...s },
  latencyUs: 1,
});

describe('HTTP ext_authz never answers a denial with a status Envoy reads as allow or as its own failure', () => {
  it('answers an internal failure with 403 and the reason under on_error: deny', async () => {
    for (const decider of [
      scripted(() => internal).decider,
      scripted(() => {
        throw new Error('bug');
      }).decider,
    ]) {
      const res = await overHttp(decider);
      expect(res.statusCode).toBe(403);
      expect(res.json().reasons[0].code).toBe('internal_error');
    }
    // Over gRPC a denied 503 is still a denial (denied_response), so it keeps saying 503.
    expect(await authorizer(scripted(() => internal).decider).authorize(call)).toMatchObject({
      kind: 'deny',
      status: 503,
    });
  });

  it("answers a compatibility policy's 5xx or 200 denial with 403, keeping its 3xx and 4xx", async () => {
    const compatDenial = (httpStatus: number) =>
      scripted(() => ({
        allow: false,
        decisionId: 'd-3',
        reasons: [{ code: 'policy_denied', message: 'no' }],
        decidedBy: 'compat',
        policyResult: { allowed: false, http_status: httpStatus, body: 'nope' },
        latencyUs: 1,
      })).decider;
    for (const [asked, sent] of [
      [500, 403],
      [503, 403],
      [599, 403],
      [200, 403],
      [204, 403],
      [302, 302],
      [402, 402],
      [429, 429],
    ] as const) {
      const res = await overHttp(compatDenial(asked));
      expect(res.statusCode, String(asked)).toBe(sent);
      expect(res.body).toBe('nope');
    }
  });

  it('answers a failure thrown inside the route with 403 (503 only under error_response), never a 500', async () => {
    const throwing: EnvoyAuthorizer = {
      authorize: () => Promise.reject(new Error('bug')),
    };
    for (const [onError, status] of [
      ['deny', 403],
      ['error_response', 503],
    ] as const) {
      const app = Fastify();
      registerEnvoyHttpRoutes(app, throwing, { prefix: '/e', bodyLimitBytes: 1024, onError });
      const res = await app.inject({ method: 'POST', url: '/e/x' });
      expect(res.statusCode, onError).toBe(status);
      expect(res.json().reasons[0].code).toBe('internal_error');
      // A client error keeps its 4xx.
      const big = await app.inject({ method: 'POST', url: '/e/x', payload: 'x'.repeat(4096) });
      expect(big.statusCode).toBe(413);
      await app.close();
    }
  });
});

describe('headers with line breaks or controls never reach Envoy', () => {
  it('fails an allow closed when a claim would put a CR, LF or NUL into an identity header', async () => {
    for (const sub of ['a\r\nx-admin: 1', 'a\nb', 'a\u0000b', 'a\u007fb']) {
      const decider = scripted(() => allowing({ sub })).decider;
      const verdict = await authorizer(decider).authorize(call);
      expect(verdict, JSON.stringify(sub)).toMatchObject({ kind: 'deny', status: 503 });
      const res = await overHttp(decider);
      expect(res.statusCode).toBe(403);
      expect(res.json().reasons[0].code).toBe('internal_error');
      expect(res.headers['x-admin']).toBeUndefined();
    }
  });

  it('fails an allow closed on a policy header with a line break; drops one from a denial', async () => {
    const shaped = (allowed: boolean) =>
      scripted(() => ({
        ...allowing(),
        allow: allowed,
        reasons: allowed ? [] : [{ code: 'policy_denied' as const, message: 'no' }],
        decidedBy: 'compat',
        policyResult: { allowed, headers: { 'x-ok': 'fine', 'x-bad': 'v\r\nset-cookie: s=1' } },
      })).decider;
    expect(await authorizer(shaped(true)).authorize(call)).toMatchObject({
      kind: 'deny',
      status: 503,
    });
    const denied = await authorizer(shaped(false)).authorize(call);
    if (denied.kind !== 'deny') throw new Error('expected a deny');
    expect(denied.headers.map((h) => h.name)).toContain('x-ok');
    expect(denied.headers.map((h) => h.name)).not.toContain('x-bad');
    const res = await overHttp(shaped(false));
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-ok']).toBe('fine');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('sends a UTF-8 subject over HTTP as the same bytes gRPC carries, not a 500', async () => {
    const res = await overHttp(scripted(() => allowing({ sub: '用户-é' })).decider);
    expect(res.statusCode).toBe(200);
    expect(Buffer.from(res.headers['x-mandate-subject'] as string, 'latin1').toString('utf8')).toBe(
      '用户-é',
    );
  });
});

describe('headers the upstream could read otherwise than mandate decides', () => {
  const ROUTES = `
envoy:
  routes:
    - { method: GET, path: "/v1/contacts/{id}", action: contacts.read }
    - { method: DELETE, path: "/v1/contacts/{id}", action: contacts.delete }
`;
  const allowAll = () => scripted(() => ({ ...internal, allow: true, reasons: [] }));
  const ask = async (headers: Record<string, string>, yaml = ROUTES) => {
    const { decider, seen } = allowAll();
    await authorizer(decider, yaml).authorize(
      envoyCallOf(checkRequest({ method: 'GET', path: '/v1/contacts/c_1', headers })),
    );
    return seen[0];
  };

  it('decides a request carrying a method override for the method it names', async () => {
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      const request = await ask({ [name]: 'delete' });
      expect(request, name).toMatchObject({ action: 'contacts.delete' });
      expect(request?.refusal, name).toBeUndefined();
      expect(request?.context?.['http']).toMatchObject({ method: 'DELETE' });
    }
    // Two override headers that agree are one method.
    expect(
      await ask({ 'x-http-method-override': 'DELETE', 'x-method-override': 'delete' }),
    ).toMatchObject({ action: 'contacts.delete' });
    // Configured names replace the defaults.
    const custom = `${ROUTES}  method_override_headers: [x-verb]\n`;
    expect(await ask({ 'x-verb': 'DELETE' }, custom)).toMatchObject({ action: 'contacts.delete' });
    expect(await ask({ 'x-http-method-override': 'DELETE' }, custom)).toMatchObject({
      action: 'contacts.read',
    });
  });

  it('refuses a malformed or ambiguous override with request_invalid', async () => {
    for (const headers of <Record<string, string>[]>[
      { 'x-http-method-override': 'DELETE,GET' },
      { 'x-http-method-override': 'DE LETE' },
      { 'x-http-method-override': '' },
      { 'x-http-method-override': 'DELETE', 'x-http-method': 'GET' },
    ]) {
      const request = await ask(headers);
      expect(request?.refusal, JSON.stringify(headers)).toMatchObject({ code: 'request_invalid' });
    }
  });

  it('refuses two credentials with request_invalid; one of another scheme among them is ignored', async () => {
    for (const authorization of [
      'Bearer a,Bearer b',
      'Bearer a, Bearer a',
      'Basic eA==,Bearer a',
    ]) {
      expect((await ask({ authorization }))?.refusal, authorization).toMatchObject({
        code: 'request_invalid',
      });
    }
    const two = `${ROUTES}  token_headers: [authorization, x-token]\n`;
    expect(
      (await ask({ authorization: 'Bearer a', 'x-token': 'Bearer b' }, two))?.refusal,
    ).toMatchObject({ code: 'request_invalid', message: expect.stringContaining('x-token') });
    expect(await ask({ authorization: 'Bearer a', 'x-token': 'Bearer a' }, two)).toMatchObject({
      token: 'a',
    });
    const digest = await ask({ authorization: 'Digest username="u", realm="r"' });
    expect(digest?.refusal).toBeUndefined();
    expect(digest?.token).toBeUndefined();
  });
});

describe('the OPA-Envoy input document', () => {
  it('renders attributes as OPA-Envoy maps them and parses path and query like OPA-Envoy', () => {
    const doc = compatDocumentOf(call, true);
    if (!doc.ok) throw new Error('expected a document');
    expect(doc.input).toMatchObject({
      parsed_path: ['v1', 'x'],
      parsed_query: { a: ['1', '2'], b: [' '] },
      parsed_body: null,
      truncated_body: false,
      version: { ext_authz: 'v3', encoding: 'protojson' },
      attributes: {
        source: {
          address: { socketAddress: { address: '203.0.113.7', portValue: 53122 } },
          principal: 'spiffe://cluster.local/ns/default/sa/agent',
        },
        request: {
          time: { seconds: Date.parse('2026-11-28T09:00:00.000Z') / 1000 },
          http: { method: 'GET', path: '/v1/x?a=1&a=2&b=%20', host: 'api.example.com' },
        },
        contextExtensions: { virtual_host: 'api' },
      },
    });
    // Defaults are omitted, as OPA-Envoy does.
    const http = (doc.input['attributes'] as { request: { http: Record<string, unknown> } }).request
      .http;
    expect(http).not.toHaveProperty('size');
    expect(http).not.toHaveProperty('body');
    const sized = envoyCallOf(
      CheckRequest.fromPartial({
        attributes: { request: { http: { method: 'GET', path: '/', size: 12 } } },
      }),
    );
    expect(sized.attributes).toEqual({
      request: { http: { method: 'GET', path: '/', size: 12 } },
    });
    const root = compatDocumentOf(sized, true);
    expect(root.ok && root.input['parsed_path']).toEqual(['']);
  });
});
