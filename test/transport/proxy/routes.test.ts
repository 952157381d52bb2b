// `mandate proxy` in front of a real plain HTTP upstream: routes decide, denials never reach it, the token never does, hostile paths map to nothing.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpProxyUnderTest, type HttpProxyUnderTest } from '../../helpers/http-proxy.js';
import { rawHttp } from '../../helpers/raw-http.js';

const ROUTES = `  routes:
    - { method: GET, path: /v1/contacts, action: contacts.read }
    - { method: PATCH, path: '/v1/contacts/{id}', action: contacts.update, resource: { type: contact, id: '{id}' } }
    - { method: PATCH, path: /v1/contacts/merge, action: contacts.merge }
    - { method: GET, path: '/v1/orgs/{org}/tickets', action: tickets.read, tenant: '{org}' }
    - { method: GET, path: /admin, action: admin.read }
`;

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('mandate proxy: plain HTTP upstream routes', () => {
  let upstream: Server;
  let target: HttpProxyUnderTest;
  let upstreamHost = '';
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-upstream': 'yes',
          connection: 'x-hop',
          'x-hop': 'must not reach the client',
        });
        res.end(JSON.stringify({ ok: true, path: req.url }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    upstreamHost = `127.0.0.1:${port}`;
    target = await startHttpProxyUnderTest({
      upstream: `http://127.0.0.1:${port}/api`,
      proxyYaml: ROUTES,
    });
  });
  afterAll(async () => {
    await target.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('forwards an allowed request with identity headers instead of the token and cookies', async () => {
    const token = await target.token('contacts.read');
    const res = await rawHttp(target.baseUrl, 'GET', '/v1/contacts?q=ada&limit=5', [
      ['authorization', `Bearer ${token}`],
      ['cookie', 'session=secret'],
      ['dpop', 'not-a-proof'],
      ['x-mandate-subject', 'admin'],
      ['x-mandate-tenant', 'initech'],
      ['x-forwarded-for', '10.9.9.9'],
      ['x-forwarded-host', 'evil.example'],
      ['forwarded', 'for=10.9.9.9'],
      ['x-http-method-override', 'DELETE'],
      ['connection', 'keep-alive, x-secret'],
      ['x-secret', 'hop-by-hop'],
      ['x-request-id', 'req-42'],
      ['accept', 'application/json'],
    ]);
    expect(res.status).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['x-hop']).toBeUndefined();
    expect(seen).toHaveLength(1);
    const [got] = seen as [Seen];
    expect(got.method).toBe('GET');
    // The upstream URL's path is put before the path, query kept as sent.
    expect(got.url).toBe('/api/v1/contacts?q=ada&limit=5');
    const h = got.headers;
    expect(h.authorization).toBeUndefined();
    expect(h.cookie).toBeUndefined();
    expect(h.dpop).toBeUndefined();
    expect(h['x-http-method-override']).toBeUndefined();
    expect(h['x-secret']).toBeUndefined();
    expect(h.forwarded).toBeUndefined();
    expect(JSON.stringify(h)).not.toContain(token);
    expect(h['x-mandate-subject']).toBe('user_8421');
    expect(h['x-mandate-tenant']).toBe('acme_inc');
    expect(h['x-mandate-client']).toBe('acme-portal');
    expect(h['x-mandate-scopes']).toBe('contacts.read');
    expect(h['x-mandate-decision-id']).toMatch(/\S/);
    expect(h.host).toBe(upstreamHost);
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-host']).toBe(`127.0.0.1:${target.port}`);
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-request-id']).toBe('req-42');
    expect(h.accept).toBe('application/json');

    const records = await target.auditRecords();
    const record = records.find((r) => r['decision_id'] === h['x-mandate-decision-id']);
    expect(record).toMatchObject({ allow: true, action: 'contacts.read' });
    expect(JSON.stringify(record)).toContain('http_proxy');
  });

  it('streams a request body to an allowed route and names the resource from the path', async () => {
    const token = await target.token('contacts.write');
    const res = await rawHttp(
      target.baseUrl,
      'PATCH',
      '/v1/contacts/c_1',
      [
        ['authorization', `Bearer ${token}`],
        ['content-type', 'application/json'],
      ],
      '{"name":"Ada"}',
    );
    expect(res.status).toBe(200);
    expect(seen[0]).toMatchObject({ method: 'PATCH', url: '/api/v1/contacts/c_1' });
    expect(seen[0]?.body).toBe('{"name":"Ada"}');
  });

  it('answers 401 with a Bearer challenge without a token or with a bad one, never forwarding', async () => {
    const none = await rawHttp(target.baseUrl, 'GET', '/v1/contacts');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(none.text)).toMatchObject({ reasons: [{ code: 'token_missing' }] });

    const bad = await rawHttp(target.baseUrl, 'GET', '/v1/contacts', [
      ['authorization', 'Bearer not.a.token'],
    ]);
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(JSON.parse(bad.text)).toMatchObject({ reasons: [{ code: 'token_malformed' }] });
    expect(seen).toHaveLength(0);
  });

  it('answers 403 with the reasons as JSON when policy denies, never forwarding', async () => {
    const token = await target.token('contacts.read');
    const scope = await rawHttp(target.baseUrl, 'PATCH', '/v1/contacts/c_1', [
      ['authorization', `Bearer ${token}`],
    ]);
    expect(scope.status).toBe(403);
    expect(scope.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(scope.headers['www-authenticate']).toContain('scope="contacts.update"');
    const body = JSON.parse(scope.text) as { decision_id: string; reasons: { code: string }[] };
    expect(body.reasons[0]?.code).toBe('insufficient_scope');
    expect(scope.headers['x-mandate-decision-id']).toBe(body.decision_id);

    // The route names the tenant (from the path): another tenant's tickets are refused.
    const tickets = await target.token('tickets.read');
    const other = await rawHttp(target.baseUrl, 'GET', '/v1/orgs/initech/tickets', [
      ['authorization', `Bearer ${tickets}`],
    ]);
    expect(other.status).toBe(403);
    expect(JSON.parse(other.text)).toMatchObject({ reasons: [{ code: 'tenant_mismatch' }] });
    const own = await rawHttp(target.baseUrl, 'GET', '/v1/orgs/acme_inc/tickets', [
      ['authorization', `Bearer ${tickets}`],
    ]);
    expect(own.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/orgs/acme_inc/tickets']);
  });

  it('denies a request no route maps with 403 route_unmapped, audited, after the token', async () => {
    const token = await target.token('contacts.read admin.read');
    const res = await rawHttp(target.baseUrl, 'DELETE', '/v1/contacts', [
      ['authorization', `Bearer ${token}`],
    ]);
    expect(res.status).toBe(403);
    const body = JSON.parse(res.text) as { decision_id: string; reasons: { code: string }[] };
    expect(body.reasons.map((r) => r.code)).toEqual(['route_unmapped']);
    const anonymous = await rawHttp(target.baseUrl, 'GET', '/elsewhere');
    expect(anonymous.status).toBe(401);
    expect(seen).toHaveLength(0);
    const records = await target.auditRecords();
    expect(records.find((r) => r['decision_id'] === body.decision_id)).toMatchObject({
      allow: false,
    });
  });

  // Each spelling could reach /admin at an upstream that normalises paths; none may be decided as
  // anything but /admin (an admin.read token would be needed) or map to nothing at all.
  it.each([
    '/a/../admin',
    '/v1/contacts/../../admin',
    '/v1/%2e%2e/admin',
    '/v1/%2E%2E/admin',
    '/v1/.%2e/admin',
    '/%2e/admin',
    '/./admin',
    '/admin/.',
    '/admin%2F',
    '/admin%2f..',
    '//admin',
    '/admin//',
    '/ADMIN',
    '/Admin',
    '/admin%00',
    '/admin%5c',
    '/v1\\..\\admin',
    '/v1/contacts/..%2F..%2Fadmin',
    '/v1/%252e%252e/admin',
    '/admin#/../v1/contacts',
    'http://evil.example/admin',
  ])('never lets %s through to the upstream', async (path) => {
    const token = await target.token('contacts.read contacts.write tickets.read');
    const res = await rawHttp(target.baseUrl, 'GET', path, [['authorization', `Bearer ${token}`]]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({ reasons: [{ code: 'route_unmapped' }] });
    expect(seen).toHaveLength(0);
  });

  // A server that strips ;parameters (servlet containers) or compares case-insensitively (IIS)
  // serves PATCH /v1/contacts/merge for each; a contacts.write token must not reach it as an update.
  it.each([
    '/v1/contacts/merge;x',
    '/v1/contacts/merge;jsessionid=0123',
    '/v1/contacts/merge%3Bx',
    '/v1/contacts/MERGE',
    '/v1/contacts/Merge',
    '/v1/contacts/%4Derge',
  ])('never lets %s reach the upstream as another route than the literal', async (path) => {
    const token = await target.token('contacts.write');
    const res = await rawHttp(target.baseUrl, 'PATCH', path, [
      ['authorization', `Bearer ${token}`],
    ]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({ reasons: [{ code: 'route_unmapped' }] });
    expect(seen).toHaveLength(0);
  });

  it('still decides the literal as itself and other ids as the capture', async () => {
    const token = await target.token('contacts.write');
    const merge = await rawHttp(target.baseUrl, 'PATCH', '/v1/contacts/merge', [
      ['authorization', `Bearer ${token}`],
    ]);
    expect(merge.status).toBe(403);
    expect(merge.headers['www-authenticate']).toContain('scope="contacts.merge"');
    const other = await rawHttp(target.baseUrl, 'PATCH', '/v1/contacts/Merger', [
      ['authorization', `Bearer ${token}`],
    ]);
    expect(other.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/contacts/Merger']);
  });

  it('decides an escaped spelling of a route as that route, and forwards it as sent', async () => {
    const denied = await rawHttp(target.baseUrl, 'GET', '/%61dmin', [
      ['authorization', `Bearer ${await target.token('contacts.read')}`],
    ]);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text)).toMatchObject({ reasons: [{ code: 'insufficient_scope' }] });
    const allowed = await rawHttp(target.baseUrl, 'GET', '/%61dmin', [
      ['authorization', `Bearer ${await target.token('admin.read')}`],
    ]);
    expect(allowed.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(['/api/%61dmin']);
  });
});
