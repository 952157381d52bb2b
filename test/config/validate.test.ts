// Schema validation as the loader uses it: empty keys mean unset, defaults come from the schema, messages name the key and what it accepts.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { configFileSchema } from '../../src/config/schema/root.js';

const minimal = `
issuers:
  - issuer: https://as.example.com
    jwks_uri: https://as.example.com/.well-known/jwks.json
    audiences: [crm-api]
`;

function messageOf(yaml: string): string {
  try {
    parseConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config validation', () => {
  it('takes a key with no value (YAML null) as unset, so its default applies', () => {
    const config = parseConfig(`${minimal}    token_types:\ntoken:\naudit:\n  ring_size:\n`);
    expect(config.issuers[0]?.tokenTypes).toBeUndefined();
    expect(config.token.maxTokenBytes).toBe(16_384);
    expect(config.audit.ringSize).toBe(10_000);
  });

  it('fills defaults from the schema', () => {
    const config = parseConfig(minimal);
    const token = configFileSchema.properties.token.properties;
    expect(config.token.maxTokenBytes).toBe(token.max_token_bytes.default);
    expect(config.token.cacheMaxEntries).toBe(token.cache_max_entries.default);
    expect(config.envoy.httpPrefix).toBe(
      configFileSchema.properties.envoy.properties.http_prefix.default,
    );
  });

  it.each([
    [
      `${minimal}tenancy: { claims: org }`,
      'config: tenancy.claims: unknown key (expected one of: claim)',
    ],
    [`${minimal}tenancy: [org]`, 'config: tenancy: must be a mapping'],
    [
      `${minimal}http: { body_limit_bytes: 1.5 }`,
      'config: http.body_limit_bytes: must be an integer between 1024 and 16777216',
    ],
    [`${minimal}dev: { enabled: "yes" }`, 'config: dev.enabled: must be true or false'],
    [
      `${minimal}admin: { tokens: "${'a'.repeat(40)}" }`,
      'config: admin.tokens: must be a list of non-empty strings',
    ],
    [
      `${minimal}listen: { grpc: "localhost" }`,
      'config: listen.grpc: must be host:port, got "localhost"',
    ],
    [
      `${minimal}audit: { sinks: [{ driver: stdout, path: x }] }`,
      'config: audit.sinks[0].path: unknown key (expected one of: driver, name, format)',
    ],
    [
      `${minimal}audit: { sinks: [{ driver: file, name: "a b", path: x }] }`,
      'config: audit.sinks[0].name: must be 1-64 letters, digits, _ . or -',
    ],
  ])('%s → %s', (yaml, message) => {
    expect(messageOf(yaml)).toBe(message);
  });
});
