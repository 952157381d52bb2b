// The `revocation:` and `admin.jwt:` config sections: defaults, the Redis driver, env overrides, errors naming the key.
import { describe, expect, it } from 'vitest';
import { configErrorOf, MINIMAL_ISSUERS } from '../helpers/config-text.js';
import { parseConfig } from '../../src/config/load.js';

const issuers = MINIMAL_ISSUERS;

describe('revocation config', () => {
  it('defaults to the memory store with a snapshot in the state folder', () => {
    const config = parseConfig(issuers, { baseDir: '/srv' });
    expect(config.revocation).toEqual({
      store: { driver: 'memory' },
      path: '/srv/.mandate/revocations.json',
      grantClaim: 'grant_id',
      maxTokenLifetimeSeconds: 86_400,
      clockSkewSeconds: 60,
      sweepIntervalSeconds: 60,
      bodyLimitBytes: 8192,
    });
    expect(config.admin.jwt).toBeUndefined();
  });

  it('reads the redis driver with its defaults', () => {
    const config = parseConfig(
      `${issuers}
revocation:
  store: redis
  path: ./state/rv.json
  grant_claim: sid
  redis: { url: "redis://:secret@10.0.0.5:6380/2" }`,
      { baseDir: '/srv' },
    );
    expect(config.revocation.path).toBe('/srv/state/rv.json');
    expect(config.revocation.grantClaim).toBe('sid');
    expect(config.revocation.store).toEqual({
      driver: 'redis',
      url: 'redis://:secret@10.0.0.5:6380/2',
      keyPrefix: 'mandate:revocations:',
      connectTimeoutMs: 2000,
      unavailableAtStart: 'not_ready',
      resyncIntervalSeconds: 300,
      retryMaxDelayMs: 5000,
    });
  });

  it('takes the store and the Redis URL from the environment', () => {
    const config = parseConfig(issuers, {
      env: { MANDATE_REVOCATION_STORE: 'redis', MANDATE_REDIS_URL: 'redis://127.0.0.1:6379' },
    });
    expect(config.revocation.store).toMatchObject({
      driver: 'redis',
      url: 'redis://127.0.0.1:6379',
    });
    // A URL alone does not switch the store.
    const memory = parseConfig(issuers, { env: { MANDATE_REDIS_URL: 'redis://127.0.0.1:6379' } });
    expect(memory.revocation.store).toEqual({ driver: 'memory' });
  });

  it.each([
    ['revocation: { store: postgres }', 'revocation.store'],
    ['revocation: { store: redis }', 'revocation.redis.url'],
    ['revocation: { store: redis, redis: { url: "http://x" } }', 'revocation.redis.url'],
    ['revocation: { redis: { urll: "redis://x" } }', 'revocation.redis.urll'],
    ['revocation: { max_token_lifetime_seconds: 5 }', 'revocation.max_token_lifetime_seconds'],
    [
      'revocation: { store: redis, redis: { url: "redis://x", unavailable_at_start: maybe } }',
      'revocation.redis.unavailable_at_start',
    ],
    ['revocation: { typo: 1 }', 'revocation.typo'],
  ])('%s → error at %s', (yaml, key) => {
    expect(configErrorOf(() => parseConfig(`${issuers}\n${yaml}`)).key).toBe(key);
  });

  it('reads a per-issuer token lifetime', () => {
    const config = parseConfig(`${issuers}    max_token_lifetime_seconds: 3600\n`);
    expect(config.issuers[0]?.maxTokenLifetimeSeconds).toBe(3600);
  });

  it('reads admin.jwt as an issuer plus a required scope and tenant claim', () => {
    const config = parseConfig(
      `${issuers}
admin:
  jwt:
    issuer: https://idp.example.com
    jwks_uri: https://idp.example.com/jwks
    audiences: [mandate-admin]
    required_scope: ops.admin
    tenant_claim: org`,
    );
    expect(config.admin.jwt).toMatchObject({
      issuer: { issuer: 'https://idp.example.com', audiences: ['mandate-admin'] },
      requiredScope: 'ops.admin',
      tenantClaim: 'org',
    });
    const defaults = parseConfig(
      `${issuers}
admin: { jwt: { issuer: "https://idp", jwks_file: ./k.json, audiences: [a] } }`,
    );
    expect(defaults.admin.jwt).toMatchObject({
      requiredScope: 'mandate.admin',
      tenantClaim: 'tenant',
    });
  });

  it.each([
    ['admin: { jwt: { issuer: "https://idp", audiences: [a] } }', 'admin.jwt.jwks_uri'],
    [
      'admin: { jwt: { issuer: "https://idp", jwks_file: k.json, audiences: [a], required_scope: "a b" } }',
      'admin.jwt.required_scope',
    ],
    [
      'admin: { jwt: { issuer: "https://idp", jwks_file: k.json, audiences: [a], scopes: x } }',
      'admin.jwt.scopes',
    ],
  ])('%s → error at %s', (yaml, key) => {
    expect(configErrorOf(() => parseConfig(`${issuers}\n${yaml}`)).key).toBe(key);
  });
});
