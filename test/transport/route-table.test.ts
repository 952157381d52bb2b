// The route trie: literal over capture over rest, methods, template filling, and paths that must never match.
import { describe, expect, it } from 'vitest';
import type { EnvoyRouteConfig } from '../../src/config/envoy.js';
import { createRouteTable, splitPath } from '../../src/transport/route-table.js';

const route = (
  methods: string[],
  path: string,
  action: string,
  extra: Partial<EnvoyRouteConfig> = {},
): EnvoyRouteConfig => ({ methods, path, action, ...extra });

const table = createRouteTable([
  route(['PATCH'], '/v1/contacts/{id}', 'contacts.update', {
    resource: { type: 'contact', id: '{id}' },
  }),
  route(['GET'], '/v1/contacts/{id}', 'contacts.read', {
    resource: { type: 'contact', id: '{id}' },
  }),
  route(['GET'], '/v1/contacts/export', 'contacts.export'),
  route(['GET'], '/v1/contacts', 'contacts.list'),
  route(['*'], '/v1/contacts', 'contacts.{method}'),
  route(['GET'], '/v1/orgs/{org}/files/{path*}', 'files.read', {
    resource: { type: 'file', id: '{path}' },
    tenant: '{org}',
  }),
  route(['GET'], '/', 'root.read'),
]);

describe('route table', () => {
  it('maps method + template to action and resource', () => {
    expect(table.match('PATCH', '/v1/contacts/c_1')).toEqual({
      action: 'contacts.update',
      resource: { type: 'contact', id: 'c_1' },
      template: '/v1/contacts/{id}',
      params: { id: 'c_1' },
    });
    expect(table.match('get', '/v1/contacts/c_1?x=1#f')?.action).toBe('contacts.read');
    expect(table.match('GET', '/')?.action).toBe('root.read');
  });

  it('prefers a literal segment to a capture, and a specific method to *', () => {
    expect(table.match('GET', '/v1/contacts/export')?.action).toBe('contacts.export');
    expect(table.match('GET', '/v1/contacts')?.action).toBe('contacts.list');
    expect(table.match('DELETE', '/v1/contacts')?.action).toBe('contacts.delete');
    // Backtracks from the literal branch when it has no route for the method.
    expect(table.match('PATCH', '/v1/contacts/export')?.action).toBe('contacts.update');
  });

  it('fills a rest capture and the tenant, decoding segments', () => {
    expect(table.match('GET', '/v1/orgs/acme/files/a/b%20c.txt')).toMatchObject({
      action: 'files.read',
      resource: { type: 'file', id: 'a/b c.txt' },
      tenant: 'acme',
    });
    expect(table.match('GET', '/v1/orgs/acme/files')?.resource).toEqual({ type: 'file', id: '' });
  });

  it('never matches unknown paths, methods, dot segments, encoded slashes or bad escapes', () => {
    expect(table.match('PUT', '/v1/contacts/c_1')).toBeUndefined();
    expect(table.match('GET', '/v2/contacts')).toBeUndefined();
    expect(table.match('GET', '/v1/contacts/c_1/extra')).toBeUndefined();
    expect(table.match('PATCH', '/v1/contacts/..')).toBeUndefined();
    expect(table.match('PATCH', '/v1/contacts/%2e%2e')).toBeUndefined();
    expect(table.match('PATCH', '/v1/contacts/a%2Fb')).toBeUndefined();
    expect(table.match('PATCH', '/v1/contacts/%E0%A4%A')).toBeUndefined();
    expect(table.match('GET', 'v1/contacts')).toBeUndefined();
  });

  it('never matches a spelling a server behind the proxy could read as another path', () => {
    const ambiguous = [
      // Backslashes, raw and encoded: Envoy and many servers read them as slashes.
      '/v1/contacts/..%5C..%5Cadmin',
      '/v1/contacts/..%5c..%5cadmin',
      '/v1/contacts/..\\..\\admin',
      '/v1/contacts/a%5Cb',
      '/v1/contacts/a\\b',
      // Dot segments with path parameters, which some servers strip before resolving dots.
      '/v1/contacts/..;/admin',
      '/v1/contacts/..;x=1',
      '/v1/contacts/.;x',
      // Double encoding: a server decoding twice sees a dot segment, a slash or a backslash.
      '/v1/contacts/%252e%252e',
      '/v1/contacts/a%252Fb',
      '/v1/contacts/a%255Cb',
      // Control characters, NUL first.
      '/v1/contacts/c_1%00.json',
      '/v1/contacts/c_1%0d%0aX-Injected:%201',
      '/v1/contacts/c_1%7f',
      // A fragment left in the path: a server that does not strip it could resolve the dots.
      '/v1/contacts/c_1#/../../admin',
      '/v1/contacts/c_1#',
      // An empty segment: servers that merge slashes read /a//b as /a/b, another resource.
      '/v1/contacts//c_1',
      '//v1/contacts/c_1',
      '/v1//contacts/c_1',
      '/v1/orgs//files/a.txt',
    ];
    for (const path of ambiguous) {
      expect(table.match('GET', path), path).toBeUndefined();
      expect(table.match('PATCH', path), path).toBeUndefined();
    }
    // Still fine: a percent sign that is not an escape, in an ordinary segment.
    expect(table.match('GET', '/v1/contacts/100%25%20done')?.params).toEqual({ id: '100% done' });
  });

  // Each spelling matched a capture (or a rest capture) on a table that ignored them, while a server
  // that strips `;parameters` or compares case-insensitively serves the literal route beside it.
  describe('another spelling of a literal never reaches a capture beside it', () => {
    const guarded = createRouteTable([
      route(['GET'], '/x/admin', 'admin.read'),
      route(['GET', 'PATCH'], '/x/{id}', 'x.read', { resource: { type: 'x', id: '{id}' } }),
      route(['GET'], '/files/a/admin', 'files.admin'),
      route(['GET'], '/files/{path*}', 'files.read', { resource: { type: 'file', id: '{path}' } }),
      route(['GET'], '/orgs/internal/keys', 'keys.admin'),
      route(['GET'], '/orgs/{org}/keys', 'keys.read', { tenant: '{org}' }),
    ]);
    const allowing = createRouteTable(
      [
        route(['GET'], '/x/admin', 'admin.read'),
        route(['GET'], '/x/{id}', 'x.read', { resource: { type: 'x', id: '{id}' } }),
        route(['GET'], '/files/a/admin', 'files.admin'),
        route(['GET'], '/files/{path*}', 'files.read'),
      ],
      { pathParameters: 'allow' },
    );

    it.each([
      // Path parameters, raw and encoded (some servers decode before stripping).
      '/x/admin;y',
      '/x/admin;',
      '/x/admin;jsessionid=0123',
      '/x/admin%3By',
      '/x/admin%3by',
      '/files/a/admin;x',
      '/orgs/internal;x/keys',
      // Case, also escaped, also in an earlier segment or under a rest capture.
      '/x/ADMIN',
      '/x/Admin',
      '/x/%41DMIN',
      '/x/ADMIN;y',
      '/files/a/ADMIN',
      '/files/A/admin',
      '/orgs/INTERNAL/keys',
      // Dotless ı upper-cases to I: an upper-casing comparison reads admın as ADMIN.
      '/x/adm%C4%B1n',
    ])('%s maps to nothing', (path) => {
      expect(guarded.match('GET', path)).toBeUndefined();
      expect(guarded.match('PATCH', path)).toBeUndefined();
    });

    it.each([
      '/x/admin;y',
      '/x/admin%3Bv=1',
      '/x/Admin;y',
      '/x/ADMIN',
      '/files/a/admin;x',
      '/files/a/ADMIN',
      // Nothing before the `;`: a stripping server reads an empty segment (//a → /a).
      '/x/;y',
      '/files/;x/a/admin',
    ])('%s maps to nothing when path parameters are allowed', (path) => {
      expect(allowing.match('GET', path)).toBeUndefined();
    });

    it('still maps the literal, other captures, and parameters when allowed', () => {
      expect(guarded.match('GET', '/x/admin')?.action).toBe('admin.read');
      expect(guarded.match('GET', '/x/administrator')?.params).toEqual({ id: 'administrator' });
      expect(guarded.match('GET', '/x/C_1')?.params).toEqual({ id: 'C_1' });
      // The method has no literal route: the exact spelling goes to the capture, as upstream.
      expect(guarded.match('PATCH', '/x/admin')?.params).toEqual({ id: 'admin' });
      expect(guarded.match('GET', '/files/a/admin')?.action).toBe('files.admin');
      expect(guarded.match('GET', '/files/b/ADMIN')?.params).toEqual({ path: 'b/ADMIN' });
      expect(guarded.match('GET', '/orgs/Acme/keys')?.tenant).toBe('Acme');
      expect(guarded.match('GET', '/x/c_1;v=2')).toBeUndefined();
      expect(allowing.match('GET', '/x/c_1;v=2')?.params).toEqual({ id: 'c_1;v=2' });
      expect(allowing.match('GET', '/files/b;v=1/c')?.params).toEqual({ path: 'b;v=1/c' });
      expect(table.match('GET', '/v1/contacts/a;b')).toBeUndefined();
    });
  });

  it('splits paths into decoded segments', () => {
    expect(splitPath('/a/b/')).toEqual(['a', 'b']);
    expect(splitPath('/')).toEqual([]);
    expect(splitPath('/a//b')).toBeUndefined();
    expect(splitPath('/a/b//')).toBeUndefined();
    expect(splitPath('/a;b')).toBeUndefined();
    expect(splitPath('/a%3Bb')).toBeUndefined();
    expect(splitPath('/a;b', 'allow')).toEqual(['a;b']);
    expect(splitPath('/;b', 'allow')).toBeUndefined();
  });

  it('matches in time linear in segments, not in routes', () => {
    const many = createRouteTable(
      Array.from({ length: 5000 }, (_, i) => route(['GET'], `/r${i}/{id}`, `a${i}`)),
    );
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) many.match('GET', `/r${i % 5000}/x`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(many.match('GET', '/r4999/x')?.action).toBe('a4999');
  });
});
