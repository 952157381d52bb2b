// The `exchange:` section: defaults, the three client-auth methods, egress routes, and errors that name the key.
import { describe, expect, it } from 'vitest';
import { configMessageOf, MINIMAL_ISSUERS } from '../helpers/config-text.js';
import { parseConfig } from '../../src/config/load.js';

const issuers = MINIMAL_ISSUERS;

function load(exchange: string, env: Record<string, string> = {}) {
  return parseConfig(`${issuers}\nexchange:\n${exchange}`, { baseDir: '/srv', env });
}

describe('exchange config', () => {
  it('is off when absent', () => {
    expect(parseConfig(issuers).exchange).toBeUndefined();
  });

  it('fills the documented defaults', () => {
    const config = load(`  issuer: https://as.example.com
  client_id: crm-service
  client_secret: s3cret`);
    expect(config.exchange).toEqual({
      endpoint: { kind: 'discovery', issuer: 'https://as.example.com' },
      clientId: 'crm-service',
      clientAuth: { method: 'client_secret_basic', secret: 's3cret' },
      actor: { mode: 'client_credentials', name: 'crm-service' },
      timeoutMs: 2000,
      retries: 1,
      retryBackoffMs: 100,
      cacheMaxEntries: 10_000,
      cacheSkewSeconds: 30,
      egress: {},
      egressHttpPrefix: '/envoy/egress',
    });
    expect(Object.isFrozen(config.exchange)).toBe(true);
  });

  it('reads private_key_jwt, the actor, limits and egress routes', () => {
    const config = load(`  token_endpoint: https://as.example.com/oauth/token
  client_id: crm-service
  client_auth: private_key_jwt
  private_key_file: keys/crm.jwk.json
  assertion_alg: RS256
  assertion_kid: k1
  actor: { mode: none, name: spiffe://acme/crm }
  timeout_ms: 500
  retries: 0
  cache_max_entries: 0
  cache_skew_seconds: 5
  egress:
    billing.internal: { audience: billing-api, scope: "billing.view billing.export" }
    "ledger.internal:8443": { audience: ledger-api, resource: "https://ledger.example/" }`);
    expect(config.exchange).toMatchObject({
      endpoint: { kind: 'token_endpoint', url: 'https://as.example.com/oauth/token' },
      clientAuth: {
        method: 'private_key_jwt',
        keyPath: '/srv/keys/crm.jwk.json',
        alg: 'RS256',
        kid: 'k1',
      },
      actor: { mode: 'none', name: 'spiffe://acme/crm' },
      timeoutMs: 500,
      retries: 0,
      cacheMaxEntries: 0,
      cacheSkewSeconds: 5,
      egress: {
        'billing.internal': { audience: 'billing-api', scopes: ['billing.view', 'billing.export'] },
        'ledger.internal:8443': {
          audience: 'ledger-api',
          scopes: [],
          resource: 'https://ledger.example/',
        },
      },
    });
  });

  it('takes the client secret from MANDATE_EXCHANGE_CLIENT_SECRET', () => {
    const config = load(
      `  issuer: https://as.example.com
  client_id: crm-service
  client_auth: client_secret_post`,
      { MANDATE_EXCHANGE_CLIENT_SECRET: 'from-env' },
    );
    expect(config.exchange?.clientAuth).toEqual({
      method: 'client_secret_post',
      secret: 'from-env',
    });
  });

  it.each([
    [
      '  client_id: a\n  client_secret: s',
      'exchange.token_endpoint: exactly one of token_endpoint or issuer is required',
    ],
    [
      '  issuer: https://a\n  token_endpoint: https://a/t\n  client_id: a\n  client_secret: s',
      'exchange.token_endpoint: exactly one of token_endpoint or issuer is required',
    ],
    [
      '  issuer: ftp://a\n  client_id: a\n  client_secret: s',
      'exchange.issuer: must be an http(s) URL',
    ],
    ['  issuer: https://a\n  client_secret: s', 'exchange.client_id: is required'],
    ['  issuer: https://a\n  client_id: a', 'exchange.client_secret: is required'],
    [
      '  issuer: https://a\n  client_id: a\n  client_auth: mtls',
      'exchange.client_auth: must be one of: client_secret_basic, client_secret_post, private_key_jwt',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_auth: private_key_jwt',
      'exchange.private_key_file: is required',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_auth: private_key_jwt\n  private_key_file: k\n  client_secret: s',
      'exchange.client_secret: is not used with client_auth: private_key_jwt',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  private_key_file: k',
      'exchange.private_key_file: is only used with client_auth: private_key_jwt',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  timeout_ms: 10',
      'exchange.timeout_ms: must be an integer between 50 and 60000',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  actor: { mode: always }',
      'exchange.actor.mode: must be one of: client_credentials, none',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  egress: { "Billing": { audience: b } }',
      'exchange.egress.Billing: must be a lower-case host name, optionally with :port',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  egress: { billing: { scope: x } }',
      'exchange.egress.billing.audience: is required',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  egress_http_prefix: envoy/',
      'exchange.egress_http_prefix: must be a path such as /envoy/egress (no trailing slash)',
    ],
    [
      '  issuer: https://a\n  client_id: a\n  client_secret: s\n  cache: 1',
      'exchange.cache: unknown key',
    ],
  ])('rejects %j', (yaml, message) => {
    expect(configMessageOf(() => load(yaml))).toContain(message);
  });
});
