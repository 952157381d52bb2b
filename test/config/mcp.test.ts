// The `mcp:` section: defaults, resource validation, and errors that name the key.
import { describe, expect, it } from 'vitest';
import { configMessageOf, MINIMAL_ISSUERS } from '../helpers/config-text.js';
import { resolve } from 'node:path';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';

const issuers = MINIMAL_ISSUERS;

function load(mcp: string) {
  return parseConfig(`${issuers}\nmcp:\n${mcp}`, { baseDir: '/srv' });
}

const resource = `  resources:
    - uri: https://mcp.example.com/mcp
      authorization_servers: [https://as.example.com]
`;

describe('mcp config', () => {
  it('is off when absent', () => {
    expect(parseConfig(issuers).mcp).toBeUndefined();
  });

  it('fills defaults: the path from the URI, the listen address, the limits', () => {
    const mcp = load(`  upstream: http://127.0.0.1:3000/mcp\n${resource}`).mcp;
    expect(mcp).toEqual({
      upstream: 'http://127.0.0.1:3000/mcp',
      resources: [
        {
          uri: 'https://mcp.example.com/mcp',
          path: '/mcp',
          authorizationServers: ['https://as.example.com'],
          scopesSupported: [],
          dpopRequired: false,
        },
      ],
      listen: { host: '127.0.0.1', port: 8190 },
      allowedOrigins: [],
      allowedHosts: [],
      bodyLimitBytes: 4 * 1024 * 1024,
      listLimitBytes: 16 * 1024 * 1024,
      upstreamTimeoutMs: 30_000,
      sendIdentityHeaders: true,
    });
    expect(Object.isFrozen(mcp?.resources[0])).toBe(true);
  });

  it('reads every resource field', () => {
    const mcp = load(`  resources:
    - uri: https://mcp.example.com/tools
      path: /internal/tools
      authorization_servers: [https://as.example.com]
      scopes_supported: [mcp.tools, offline_access]
      resource_name: Tools
      documentation: https://docs.example.com/mcp
      dpop_signing_alg_values_supported: [ES256, EdDSA]
      dpop_bound_access_tokens_required: true
`).mcp;
    expect(mcp?.resources[0]).toEqual({
      uri: 'https://mcp.example.com/tools',
      path: '/internal/tools',
      authorizationServers: ['https://as.example.com'],
      scopesSupported: ['mcp.tools', 'offline_access'],
      resourceName: 'Tools',
      documentation: 'https://docs.example.com/mcp',
      dpopAlgorithms: ['ES256', 'EdDSA'],
      dpopRequired: true,
    });
  });

  const exchange = `exchange: { token_endpoint: https://as.example.com/token, client_id: mcp-proxy, client_secret: s }\n`;

  it('reads the upstream token exchange and the identity headers switch', () => {
    const config = parseConfig(
      `${issuers}${exchange}mcp:\n${resource}  send_identity_headers: false
  upstream_token:
    exchange: { audience: crm-mcp, scope: "crm.read  crm.write", resource: "https://crm.internal/mcp" }
`,
    );
    expect(config.mcp?.sendIdentityHeaders).toBe(false);
    expect(config.mcp?.upstreamToken).toEqual({
      exchange: {
        audience: 'crm-mcp',
        scopes: ['crm.read', 'crm.write'],
        resource: 'https://crm.internal/mcp',
      },
    });
  });

  it('refuses an upstream token exchange without the exchange: section, naming the key', () => {
    expect(
      configMessageOf(() =>
        load(`${resource}  upstream_token: { exchange: { audience: crm-mcp } }\n`),
      ),
    ).toContain('mcp.upstream_token: needs the exchange: section');
  });

  it('refuses an upstream token exchange resource that is not an absolute URI', () => {
    expect(
      configMessageOf(() =>
        parseConfig(
          `${issuers}${exchange}mcp:\n${resource}  upstream_token: { exchange: { audience: a, resource: not-a-uri } }\n`,
        ),
      ),
    ).toContain('mcp.upstream_token.exchange.resource: must be an absolute URI');
  });

  const bad: [string, string, string][] = [
    ['no resources', '  upstream: http://u/mcp\n', 'mcp.resources: is required'],
    [
      'a relative URI',
      '  resources:\n    - { uri: /mcp, authorization_servers: [https://as] }\n',
      'mcp.resources[0].uri: must be an absolute http(s) URL',
    ],
    [
      'a URI with a fragment',
      '  resources:\n    - { uri: "https://m/mcp#x", authorization_servers: [https://as] }\n',
      'mcp.resources[0].uri: must have no query or fragment (RFC 8707)',
    ],
    [
      'no authorization server',
      '  resources:\n    - { uri: https://m/mcp }\n',
      'mcp.resources[0].authorization_servers: is required',
    ],
    [
      'a path under /.well-known/',
      '  resources:\n    - { uri: https://m/mcp, path: /.well-known/x, authorization_servers: [https://as] }\n',
      'mcp.resources[0].path: must not be under /.well-known/',
    ],
    [
      'two resources on one path',
      '  resources:\n    - { uri: https://m/mcp, authorization_servers: [https://as] }\n    - { uri: https://n/mcp, authorization_servers: [https://as] }\n',
      'mcp.resources[1].path: duplicate path /mcp',
    ],
    [
      'a scope that would break the challenge',
      "  resources:\n    - { uri: https://m/mcp, authorization_servers: [https://as], scopes_supported: ['a\"b'] }\n",
      'mcp.resources[0].scopes_supported[0]: must be a scope token',
    ],
    ['an unknown key', `  upstreams: x\n${resource}`, 'mcp.upstreams: unknown key'],
    [
      'a DPoP algorithm that is not an asymmetric JWS algorithm',
      '  resources:\n    - { uri: https://m/mcp, authorization_servers: [https://as], dpop_signing_alg_values_supported: [HS256] }\n',
      'mcp.resources[0].dpop_signing_alg_values_supported[0]: must be one of RS256',
    ],
    [
      'an upstream token exchange without an audience',
      `${resource}  upstream_token: { exchange: { scope: crm.read } }\n`,
      'mcp.upstream_token.exchange.audience: is required',
    ],
    [
      'an upstream token of an unknown kind',
      `${resource}  upstream_token: { client_credentials: {} }\n`,
      'mcp.upstream_token.exchange: is required',
    ],
    [
      'an origin with a path',
      `  allowed_origins: [https://app.example.com/x]\n${resource}`,
      'mcp.allowed_origins[0]: must be an origin, e.g. https://app.example.com',
    ],
  ];
  for (const [name, yaml, message] of bad) {
    it(`refuses ${name}`, () => {
      expect(configMessageOf(() => load(yaml))).toContain(message);
    });
  }

  it('loads the example in examples/mcp', () => {
    const config = loadConfigFile(resolve(import.meta.dirname, '../../examples/mcp/mandate.yaml'));
    expect(config.mcp?.resources.map((r) => r.uri)).toEqual(['http://127.0.0.1:8190/mcp']);
  });
});
