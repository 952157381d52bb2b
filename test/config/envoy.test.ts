// The envoy: config section: defaults, and errors that name the key.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const base = `dev: { enabled: true, state_dir: /tmp/mandate-envoy-config-test }\n`;
const load = (yaml: string) => parseConfig(base + yaml, { baseDir: '/srv' });

describe('envoy config', () => {
  it('has safe defaults', () => {
    const { envoy } = load('');
    expect(envoy).toMatchObject({
      httpPrefix: '/envoy/authz',
      tokenHeaders: ['authorization'],
      methodOverrideHeaders: ['x-http-method-override', 'x-http-method', 'x-method-override'],
      grpcMaxRequestBytes: 1_048_576,
      unmapped: 'deny',
      pathParameters: 'reject',
      onError: 'deny',
      dryRun: { grpc: false, http: false, tenants: [] },
      identityHeaders: { subject: 'x-mandate-subject', decisionId: 'x-mandate-decision-id' },
      compat: { enabled: false, entrypoint: 'envoy/authz/allow', dir: '/srv/policies/envoy' },
      routes: [],
    });
  });

  it('reads path_parameters, and keeps literals apart only where they share a parent', () => {
    const { envoy } = load(`
envoy:
  path_parameters: allow
  routes:
    - { path: "/x/a;v=1", action: a }
    - { path: /x/b/admin, action: b }
    - { path: /x/c/Admin, action: c }
    - { path: "/x/{id}/admin", action: d }
`);
    expect(envoy.pathParameters).toBe('allow');
    expect(envoy.routes.map((r) => r.action)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('derives unmapped routes by default in compat mode, and reads routes', () => {
    const { envoy } = load(`
envoy:
  http_prefix: /authz/
  compat: { enabled: true, dir: ./opa }
  routes:
    - { method: [get, HEAD], path: "/v1/x/{id}", action: x.read, resource: { type: x, id: "{id}" } }
`);
    expect(envoy.unmapped).toBe('derive');
    expect(envoy.httpPrefix).toBe('/authz');
    expect(envoy.compat.dir).toBe('/srv/opa');
    expect(envoy.routes[0]).toEqual({
      methods: ['GET', 'HEAD'],
      path: '/v1/x/{id}',
      action: 'x.read',
      resource: { type: 'x', id: '{id}' },
    });
  });

  it('reads method-override headers in lower case; an empty list turns overrides off', () => {
    expect(
      load('envoy: { method_override_headers: [X-Verb] }').envoy.methodOverrideHeaders,
    ).toEqual(['x-verb']);
    expect(load('envoy: { method_override_headers: [] }').envoy.methodOverrideHeaders).toEqual([]);
  });

  it.each([
    ['envoy: { unknown: 1 }', 'config: envoy.unknown: unknown key'],
    ['envoy: { routes: [{ method: FETCH, path: /a, action: a }] }', 'envoy.routes[0].method'],
    ['envoy: { routes: [{ path: a, action: a }] }', 'envoy.routes[0].path: must start with /'],
    ['envoy: { routes: [{ path: "/a/{x*}/b", action: a }] }', 'may only be the last segment'],
    ['envoy: { routes: [{ path: "/a/{id}", action: "a.{nope}" }] }', 'envoy.routes[0].action'],
    ['envoy: { routes: [{ path: "/a/b{c}", action: a }] }', 'must be a literal'],
    ['envoy: { on_error: allow }', 'envoy.on_error: must be one of: deny, error_response'],
    ['envoy: { identity_headers: { subject: "bad header" } }', 'envoy.identity_headers.subject'],
    ['envoy: { identity_headers: { tenant: x-mandate-subject } }', 'must differ'],
    ['envoy: { token_headers: [x-mandate-subject] }', 'is also an identity header'],
    ['envoy: { http_prefix: "/a?b" }', 'envoy.http_prefix'],
    ['envoy: { grpc_max_request_bytes: 10 }', 'envoy.grpc_max_request_bytes'],
    ['envoy: { grpc_max_request_bytes: "1MiB" }', 'envoy.grpc_max_request_bytes'],
    ['envoy: { method_override_headers: ["x a"] }', 'envoy.method_override_headers[0]: must be'],
    ['envoy: { method_override_headers: x-m }', 'envoy.method_override_headers'],
    [
      'envoy: { method_override_headers: [x-m, Authorization] }',
      'envoy.method_override_headers[1]: Authorization is also a token header',
    ],
    [
      'envoy: { method_override_headers: [x-mandate-tenant] }',
      'envoy.method_override_headers[0]: x-mandate-tenant is also an identity header',
    ],
    ['envoy: { compat: { entrypoint: "data.envoy.allow" } }', 'envoy.compat.entrypoint'],
    ['envoy: { path_parameters: strip }', 'envoy.path_parameters: must be one of: reject, allow'],
    [
      'envoy: { routes: [{ path: "/x/a;v=1", action: a }] }',
      'envoy.routes[0].path: segment "a;v=1" holds ";"',
    ],
    // A case-insensitive server reads both as one path, or a parameter-stripping one.
    [
      'envoy: { routes: [{ path: /x/admin, action: a }, { path: /x/Admin, action: b }] }',
      'envoy.routes[1].path: segment "Admin" differs from "admin" (envoy.routes[0].path) only in case',
    ],
    [
      'envoy: { path_parameters: allow, routes: [{ path: "/{t}/x/a", action: a }, { path: "/{u}/x/a;v", action: b }] }',
      'envoy.routes[1].path: segment "a;v" differs from "a"',
    ],
  ])('rejects %s', (yaml, message) => {
    expect(() => load(yaml)).toThrow(message);
  });
});
