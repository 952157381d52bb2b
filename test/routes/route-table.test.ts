// The route trie: literal over capture over rest, methods, template filling, and paths that must never match.
import { describe, expect, it } from 'vitest';
import type { EnvoyRouteConfig } from '../../src/config/envoy.js';
import { createRouteTable, splitPath } from '../../src/routes/route-table.js';

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

  it('splits paths into decoded segments', () => {
    expect(splitPath('/a/b/')).toEqual(['a', 'b']);
    expect(splitPath('/')).toEqual([]);
    expect(splitPath('/a//b')).toEqual(['a', '', 'b']);
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
