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
    // Still fine: a semicolon or a percent sign that is not an escape, in an ordinary segment.
    expect(table.match('GET', '/v1/contacts/a;b')?.params).toEqual({ id: 'a;b' });
    expect(table.match('GET', '/v1/contacts/100%25%20done')?.params).toEqual({ id: '100% done' });
  });

  it('splits paths into decoded segments', () => {
    expect(splitPath('/a/b/')).toEqual(['a', 'b']);
    expect(splitPath('/')).toEqual([]);
    expect(splitPath('/a//b')).toBeUndefined();
    expect(splitPath('/a/b//')).toBeUndefined();
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
