// Path spellings and headers that could make the upstream read a request otherwise than mandate decided it, over gRPC and HTTP ext_authz.
import { resolve } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { envoyCheck, envoyClient, headerMap } from '../helpers/envoy.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';

const ROUTES_YAML = `
envoy:
  tenant_header: x-tenant
  routes:
    - { method: GET, path: /v1/contacts, action: contacts.read }
    - { method: GET, path: "/v1/contacts/{id}", action: contacts.read, resource: { type: contact, id: "{id}" } }
    - { method: DELETE, path: "/v1/contacts/{id}", action: contacts.purge, resource: { type: contact, id: "{id}" } }
    - { method: GET, path: /v1/admin, action: admin.read }
`;

const COMPAT_YAML = `
envoy:
  compat: { enabled: true, dir: "${resolve(import.meta.dirname, 'fixtures/envoy-compat')}" }
`;

type Transport = 'grpc' | 'http';
const TRANSPORTS: readonly Transport[] = ['grpc', 'http'];

interface Ask {
  readonly method?: string;
  readonly path: string;
  /** Header lines in order; a name given twice is two lines (joined with `,` over gRPC, as Envoy does). */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
}

/** What the downstream client would get: Envoy's status, mandate's reason, the headers Envoy adds. */
interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

function reasonOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { reasons?: { code: string }[] }).reasons?.[0]?.code;
  } catch {
    return undefined;
  }
}

interface Target {
  readonly sidecar: Sidecar;
  readonly client: AuthorizationClient;
}

async function ask(target: Target, transport: Transport, req: Ask): Promise<Answer> {
  const method = req.method ?? 'GET';
  const lines = req.headers ?? [];
  if (transport === 'http') {
    const res = await rawHttp(
      target.sidecar.httpUrl,
      method,
      `/envoy/authz${req.path}`,
      lines,
      req.body,
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    return { status: res.status, code: reasonOf(res.text), headers, body: res.text };
  }
  const joined: Record<string, string> = {};
  for (const [name, value] of lines) {
    const key = name.toLowerCase();
    joined[key] = joined[key] === undefined ? value : `${joined[key]},${value}`;
  }
  const res = await envoyCheck(target.client, {
    method,
    path: req.path,
    headers: joined,
    ...(req.body !== undefined ? { body: req.body } : {}),
  });
  if (res.status?.code === 0) {
    return { status: 200, code: undefined, headers: headerMap(res.okResponse?.headers), body: '' };
  }
  // A denial is always an OK RPC with UNAUTHENTICATED or PERMISSION_DENIED inside.
  expect([grpcStatus.UNAUTHENTICATED, grpcStatus.PERMISSION_DENIED]).toContain(res.status?.code);
  const body = res.deniedResponse?.body ?? '';
  return {
    status: res.deniedResponse?.status?.code ?? 0,
    code: reasonOf(body),
    headers: headerMap(res.deniedResponse?.headers),
    body,
  };
}

const bearer = (token: string) => ['authorization', `Bearer ${token}`] as const;

describe('route mapping: paths and headers', () => {
  let target: Target;
  let reader: string;
  let deleter: string;
  let readerDeleter: string;
  beforeAll(async () => {
    const sidecar = await startSidecar({ yaml: ROUTES_YAML });
    target = { sidecar, client: envoyClient(sidecar.grpcTarget) };
    reader = await sidecar.token({ claims: { scope: 'contacts.read' } });
    deleter = await sidecar.token({ claims: { scope: 'contacts.purge' } });
    readerDeleter = await sidecar.token({ claims: { scope: 'contacts.read contacts.purge' } });
  });
  afterAll(async () => {
    target?.client.close();
    await target?.sidecar.stop();
  });

  // (contacts.purge: an action base policy gates by scope alone.)
  // A reader may GET contacts and nothing else: a spelling that reaches contacts.read while the
  // upstream could read /v1/admin (or another path) must not be allowed.
  const neverMapped: readonly (readonly [string, string])[] = [
    ['an encoded slash', '/v1/contacts/..%2F..%2Fadmin'],
    ['a lower-case encoded slash', '/v1/contacts/..%2f..%2fadmin'],
    ['dot segments', '/v1/contacts/c_1/../../admin'],
    ['%2e dot segments', '/v1/contacts/%2e%2e/%2e%2e/admin'],
    ['a half-encoded dot segment', '/v1/contacts/.%2E'],
    ['raw backslashes', '/v1/contacts/..\\..\\admin'],
    ['%5C backslashes', '/v1/contacts/..%5C..%5Cadmin'],
    ['%5c backslashes', '/v1/contacts/..%5c..%5cadmin'],
    ['a backslash inside an id', '/v1/contacts/c_1%5C..'],
    ['double-encoded dots', '/v1/contacts/%252e%252e'],
    ['a double-encoded slash', '/v1/contacts/..%252F..%252Fadmin'],
    ['a double-encoded backslash', '/v1/contacts/..%255C..%255Cadmin'],
    ['a NUL byte', '/v1/contacts/c_1%00.json'],
    ['an encoded CR LF', '/v1/contacts/c_1%0d%0ax-admin:%201'],
    ['a dot segment with ;parameters', '/v1/contacts/..;/admin'],
    ['a dot segment with ;parameters as the id', '/v1/contacts/..;x=1'],
    ['a fragment with dot segments', '/v1/contacts/c_1#/../../admin'],
    ['overlong UTF-8 dots', '/v1/contacts/%c0%ae%c0%ae'],
    ['a bad escape', '/v1/contacts/%zz'],
    ['a doubled slash', '//v1/contacts'],
    ['an upper-case path', '/V1/CONTACTS'],
    ['a mixed-case segment', '/v1/Contacts/c_1'],
    ['an encoded ? before dot segments', '/v1/contacts%3F/../admin'],
    ['a long path of 10 KB', `/v1/contacts/c_1/${'x/'.repeat(5000)}`],
  ];

  for (const transport of TRANSPORTS) {
    it.each(neverMapped)(`${transport}: %s never maps to a route`, async (_what, path) => {
      const res = await ask(target, transport, { path, headers: [bearer(reader)] });
      if (transport === 'http' && res.status === 400) {
        // An escape that does not decode is refused by the HTTP listener before any decision.
        expect(res.code).toBeUndefined();
        return;
      }
      expect(res.status).toBe(403);
      expect(res.code).toBe('route_unmapped');
    });
  }

  it.each(TRANSPORTS)(
    '%s: a path over 80 KB is refused, never allowed and never a 5xx',
    async (transport) => {
      const res = await ask(target, transport, {
        path: `/v1/contacts/c_1/${'x/'.repeat(40_000)}`,
        headers: [bearer(reader)],
      });
      // gRPC: no route; HTTP: Node's header limit (431).
      expect([403, 431]).toContain(res.status);
    },
  );

  it.each(TRANSPORTS)(
    '%s: still holds: plain, trailing-slash and query-only spellings of a contact',
    async (transport) => {
      for (const path of [
        '/v1/contacts/c_1',
        '/v1/contacts/',
        '/v1/contacts/c_1?x=..%2F..%2Fadmin',
      ]) {
        const res = await ask(target, transport, { path, headers: [bearer(reader)] });
        expect(res.status, path).toBe(200);
        expect(res.headers['x-mandate-subject'], path).toBe('user-1');
      }
    },
  );

  it.each(TRANSPORTS)(
    '%s: query smuggling decides the path before ?, not what follows',
    async (transport) => {
      const res = await ask(target, transport, {
        path: '/v1/admin?/v1/contacts',
        headers: [bearer(reader)],
      });
      expect(res.status).toBe(403);
      expect(res.code).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toContain('scope="admin.read"');
    },
  );

  for (const transport of TRANSPORTS) {
    it.each(['x-http-method-override', 'x-http-method', 'x-method-override'])(
      `${transport}: GET with %s: DELETE is decided as a DELETE, and as a GET`,
      async (header) => {
        const refused = await ask(target, transport, {
          path: '/v1/contacts/c_1',
          headers: [bearer(reader), [header, 'DELETE']],
        });
        expect(refused.status).toBe(403);
        expect(refused.code).toBe('insufficient_scope');
        expect(refused.headers['www-authenticate']).toContain('scope="contacts.purge"');
        // An upstream that ignores the header runs the GET: it must be allowed too.
        const lineRefused = await ask(target, transport, {
          path: '/v1/contacts/c_1',
          headers: [bearer(deleter), [header, 'delete']],
        });
        expect(lineRefused.status).toBe(403);
        expect(lineRefused.code).toBe('insufficient_scope');
        expect(lineRefused.headers['www-authenticate']).toContain('scope="contacts.read"');
        const allowed = await ask(target, transport, {
          path: '/v1/contacts/c_1',
          headers: [bearer(readerDeleter), [header, 'delete']],
        });
        expect(allowed.status).toBe(200);
      },
    );

    it.each(['x-http-method-override', 'x-http-method', 'x-method-override'])(
      `${transport}: DELETE with %s: GET is decided as a DELETE too (the upstream may ignore the header)`,
      async (header) => {
        const refused = await ask(target, transport, {
          method: 'DELETE',
          path: '/v1/contacts/c_1',
          headers: [bearer(reader), [header, 'GET']],
        });
        expect(refused.status).toBe(403);
        expect(refused.code).toBe('insufficient_scope');
        expect(refused.headers['www-authenticate']).toContain('scope="contacts.purge"');
        const allowed = await ask(target, transport, {
          method: 'DELETE',
          path: '/v1/contacts/c_1',
          headers: [bearer(readerDeleter), [header, 'get']],
        });
        expect(allowed.status).toBe(200);
        expect(allowed.headers['x-mandate-subject']).toBe('user-1');
      },
    );
  }

  it.each(TRANSPORTS)(
    '%s: an override naming another method is two decisions, both audited',
    async (transport) => {
      const contact = `c_override_${transport}_${Date.now()}`;
      const res = await ask(target, transport, {
        method: 'DELETE',
        path: `/v1/contacts/${contact}`,
        headers: [bearer(readerDeleter), ['x-http-method-override', 'GET']],
      });
      expect(res.status).toBe(200);
      const records = (await target.sidecar.auditRecords()).filter((r) =>
        JSON.stringify(r).includes(contact),
      );
      expect(records.map((r) => r['action']).sort()).toEqual(['contacts.purge', 'contacts.read']);
    },
  );

  const malformedOverrides: readonly (readonly [string, readonly (readonly [string, string])[]])[] =
    [
      ['a value that is no method', [['x-http-method-override', 'DEL ETE']]],
      ['an empty value', [['x-http-method-override', '']]],
      ['two methods in one value', [['x-http-method-override', 'DELETE,GET']]],
      [
        'the header twice',
        [
          ['x-http-method-override', 'DELETE'],
          ['x-http-method-override', 'GET'],
        ],
      ],
      [
        'two override headers that disagree',
        [
          ['x-http-method-override', 'GET'],
          ['x-method-override', 'DELETE'],
        ],
      ],
    ];

  for (const transport of TRANSPORTS) {
    it.each(malformedOverrides)(
      `${transport}: a method override with %s is 400 request_invalid`,
      async (_what, lines) => {
        const res = await ask(target, transport, {
          path: '/v1/contacts/c_1',
          headers: [bearer(deleter), ...lines],
        });
        expect(res.status).toBe(400);
        expect(res.code).toBe('request_invalid');
      },
    );
  }

  it.each(TRANSPORTS)('%s: still holds: an override naming the same method', async (transport) => {
    const res = await ask(target, transport, {
      path: '/v1/contacts/c_1',
      headers: [bearer(reader), ['x-http-method-override', 'GET'], ['x-http-method', 'get']],
    });
    expect(res.status).toBe(200);
  });

  for (const transport of TRANSPORTS) {
    it.each([
      ['two different tokens', (t: string) => [bearer(t), bearer('forged')]],
      ['the same token twice', (t: string) => [bearer(t), bearer(t)]],
      [
        'a Bearer and a Basic credential',
        (t: string) => [bearer(t), ['authorization', 'Basic eDp5']],
      ],
    ] as const)(
      `${transport}: two Authorization headers (%s) are 400 request_invalid`,
      async (_what, lines) => {
        const res = await ask(target, transport, {
          path: '/v1/contacts/c_1',
          headers: lines(reader) as readonly (readonly [string, string])[],
        });
        expect(res.status).toBe(400);
        expect(res.code).toBe('request_invalid');
      },
    );
  }

  it('grpc: a CR LF in a header value is never read as another header', async () => {
    const tenant = await ask(target, 'grpc', {
      path: '/v1/contacts/c_1',
      headers: [bearer(reader), ['x-tenant', 'acme_inc\r\nx-mandate-subject: admin']],
    });
    expect(tenant.status).toBe(403);
    expect(tenant.code).toBe('tenant_mismatch');
    const token = await ask(target, 'grpc', {
      path: '/v1/contacts/c_1',
      headers: [['authorization', `Bearer ${reader}\r\nx-admin: 1`]],
    });
    expect(token.status).toBe(401);
  });

  it.each(TRANSPORTS)(
    '%s: a claim with a CR LF never becomes an identity header; the allow fails closed',
    async (transport) => {
      const token = await target.sidecar.token({
        claims: { scope: 'contacts.read', sub: 'user-1\r\nx-admin: 1' },
      });
      const res = await ask(target, transport, {
        path: '/v1/contacts/c_1',
        headers: [bearer(token)],
      });
      expect(res.status).toBe(transport === 'grpc' ? 503 : 403);
      expect(res.code).toBe('internal_error');
      expect(res.headers['x-admin']).toBeUndefined();
      expect(res.headers['x-mandate-subject']).toBeUndefined();
    },
  );

  it.each(TRANSPORTS)(
    '%s: a request over the limit is denied 413, not failed',
    async (transport) => {
      const res = await ask(target, transport, {
        method: 'POST',
        path: '/v1/contacts/c_1',
        headers: [bearer(reader), ['content-type', 'text/plain']],
        body: 'x'.repeat(2 * 1024 * 1024),
      });
      expect(res.status).toBe(413);
    },
  );

  it('grpc: beyond four times the limit the call fails, and the listener keeps serving', async () => {
    await expect(
      envoyCheck(target.client, {
        method: 'GET',
        path: '/v1/contacts/c_1',
        headers: { authorization: `Bearer ${reader}` },
        body: 'x'.repeat(5 * 1024 * 1024),
      }),
    ).rejects.toMatchObject({ code: grpcStatus.RESOURCE_EXHAUSTED });
    const res = await ask(target, 'grpc', { path: '/v1/contacts/c_1', headers: [bearer(reader)] });
    expect(res.status).toBe(200);
  });
});

describe('on_error: deny never answers HTTP ext_authz with a 5xx', () => {
  let target: Target;
  beforeAll(async () => {
    const sidecar = await startSidecar({ yaml: ROUTES_YAML, jwksFailure: 503 });
    target = { sidecar, client: envoyClient(sidecar.grpcTarget) };
  });
  afterAll(async () => {
    target?.client.close();
    await target?.sidecar.stop();
  });

  it.each(TRANSPORTS)(
    "%s: mandate's own failure is a denial with the reason",
    async (transport) => {
      const token = await target.sidecar.token({ claims: { scope: 'contacts.read' } });
      const res = await ask(target, transport, { path: '/v1/contacts', headers: [bearer(token)] });
      // gRPC carries 503 inside a denial (an OK RPC); HTTP must not: Envoy reads a 5xx as its failure.
      expect(res.status).toBe(transport === 'grpc' ? 503 : 403);
      expect(res.code).toBe('jwks_unavailable');
    },
  );
});

describe('a compatibility policy cannot make Envoy read a denial as an allow or a failure', () => {
  let target: Target;
  let token: string;
  beforeAll(async () => {
    const sidecar = await startSidecar({ yaml: COMPAT_YAML });
    target = { sidecar, client: envoyClient(sidecar.grpcTarget) };
    token = await sidecar.token();
  });
  afterAll(async () => {
    target?.client.close();
    await target?.sidecar.stop();
  });

  it.each([
    [500, 500, 403],
    [503, 503, 403],
    [200, 200, 403],
    [302, 302, 302],
    [429, 429, 429],
  ])(
    'http_status %i is sent as %i over gRPC and %i over HTTP',
    async (asked, overGrpc, overHttp) => {
      for (const [transport, expected] of [
        ['grpc', overGrpc],
        ['http', overHttp],
      ] as const) {
        const res = await ask(target, transport, {
          path: `/status/${asked}`,
          headers: [bearer(token)],
        });
        expect(res.status, transport).toBe(expected);
        expect(res.body, transport).toBe('policy says no');
      }
    },
  );

  it.each(TRANSPORTS)(
    '%s: a policy header with a CR LF fails the allow closed',
    async (transport) => {
      const res = await ask(target, transport, { path: '/inject', headers: [bearer(token)] });
      expect(res.status).toBe(transport === 'grpc' ? 503 : 403);
      expect(res.code).toBe('internal_error');
      expect(res.headers['x-note']).toBeUndefined();
      expect(res.headers['x-admin']).toBeUndefined();
      const ok = await ask(target, transport, { path: '/ok', headers: [bearer(token)] });
      expect(ok.status).toBe(200);
    },
  );
});
