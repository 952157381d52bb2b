// The `proxy:` section: defaults, routes read as `envoy.routes` are, and errors that name the key.
import { describe, expect, it } from 'vitest';
import { configMessageOf, MINIMAL_ISSUERS } from '../helpers/config-text.js';
import { parseConfig } from '../../src/config/load.js';

const issuers = MINIMAL_ISSUERS;

function load(proxy: string) {
  return parseConfig(`${issuers}\nproxy:\n${proxy}`, { baseDir: '/srv' });
}

const routes = `  routes:
    - { method: [get, PATCH], path: '/v1/orgs/{org}/contacts/{id}', action: contacts.update, resource: { type: contact, id: '{id}' }, tenant: '{org}' }
`;

describe('proxy config', () => {
  it('is off when absent', () => {
    expect(parseConfig(issuers).proxy).toBeUndefined();
  });

  it('fills defaults and reads routes as envoy.routes are read', () => {
    expect(load(`  upstream: http://127.0.0.1:3000/api\n${routes}`).proxy).toEqual({
      upstream: 'http://127.0.0.1:3000/api',
      listen: { host: '127.0.0.1', port: 8191 },
      routes: [
        {
          methods: ['GET', 'PATCH'],
          path: '/v1/orgs/{org}/contacts/{id}',
          action: 'contacts.update',
          resource: { type: 'contact', id: '{id}' },
          tenant: '{org}',
        },
      ],
      pathParameters: 'reject',
      upstreamTimeoutMs: 30_000,
    });
  });

  it.each([
    ['  routes: [{ path: /x, action: a }]\n', 'proxy'],
    ['  upstream: ftp://h/\n' + routes, 'proxy.upstream: must be an absolute http(s) URL'],
    ['  upstream: not a url\n' + routes, 'proxy.upstream: must be an absolute http(s) URL'],
    ['  upstream: http://h/?a=1\n' + routes, 'proxy.upstream: must have no query or fragment'],
    ['  upstream: http://u:p@h/\n' + routes, 'proxy.upstream: must not carry credentials'],
    ['  upstream: http://h\n  routes: []\n', 'proxy.routes'],
    ['  upstream: http://h\n  listen: nowhere\n' + routes, 'proxy.listen'],
    [
      '  upstream: http://h\n  routes: [{ method: FETCH, path: /x, action: a }]\n',
      'proxy.routes[0].method: unknown HTTP method "FETCH"',
    ],
    [
      '  upstream: http://h\n  routes: [{ path: x, action: a }]\n',
      'proxy.routes[0].path: must start with /',
    ],
    [
      "  upstream: http://h\n  routes: [{ path: /x, action: 'a.{id}' }]\n",
      'proxy.routes[0].action: {id} is not captured',
    ],
    ['  upstream: http://h\n  routes: [{ path: /x }]\n', 'proxy.routes[0]'],
    ['  upstream: http://h\n  upstream_timeout_ms: 1\n' + routes, 'proxy.upstream_timeout_ms'],
    ['  upstream: http://h\n  path_parameters: keep\n' + routes, 'proxy.path_parameters'],
    [
      '  upstream: http://h\n  routes: [{ path: /x/A, action: a }, { path: /x/a, action: b }]\n',
      'proxy.routes[1].path: segment "a" differs from "A" (proxy.routes[0].path)',
    ],
  ])('refuses %j naming the key', (yaml, expected) => {
    expect(configMessageOf(() => load(yaml))).toContain(expected);
  });
});
