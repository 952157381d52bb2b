// Config validation: defaults, env overrides, and errors that name the offending key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configErrorOf, MINIMAL_ISSUERS } from '../helpers/config-text.js';
import { DEV_ISSUER, defaultConfig, loadConfigFile, parseConfig } from '../../src/config/load.js';

const minimal = MINIMAL_ISSUERS;

describe('config', () => {
  it('built-in defaults are dev mode on the documented addresses', () => {
    const config = defaultConfig({ baseDir: '/srv' });
    expect(config.dev.enabled).toBe(true);
    expect(config.listen.http).toEqual({ host: '127.0.0.1', port: 8181 });
    expect(config.listen.grpc).toEqual({ host: '127.0.0.1', port: 9191 });
    expect(config.listen.admin).toEqual({ host: '127.0.0.1', port: 8182 });
    expect(config.policies.dir).toBe('/srv/policies');
    expect(config.issuers.map((i) => i.issuer)).toEqual([DEV_ISSUER]);
    expect(config.issuers[0]?.keys).toEqual({
      kind: 'jwks_file',
      path: '/srv/.mandate/dev-jwks.json',
    });
    expect(Object.isFrozen(config.issuers[0])).toBe(true);
  });

  it('parses the documented example with defaults filled in', () => {
    const config = parseConfig(
      `
listen: { http: "0.0.0.0:8080", grpc: "[::1]:9000", admin: "127.0.0.1:0" }
issuers:
  - issuer: "https://as.example.com"
    jwks_uri: "https://as.example.com/.well-known/jwks.json"
    audiences: ["crm-api"]
    algorithms: ["RS256", "ES256"]
    token_types: ["at+jwt"]
    clock_tolerance_seconds: 10
tenancy: { claim: "org" }
policies: { dir: "./pol" }
`,
      { baseDir: '/etc/mandate' },
    );
    expect(config.dev.enabled).toBe(false);
    expect(config.listen.grpc).toEqual({ host: '::1', port: 9000 });
    expect(config.tenancy.claim).toBe('org');
    expect(config.policies.dir).toBe('/etc/mandate/pol');
    const issuer = config.issuers[0];
    expect(issuer?.clockToleranceSeconds).toBe(10);
    expect(issuer?.tokenTypes).toEqual(['at+jwt']);
    expect(issuer?.keys).toMatchObject({
      kind: 'jwks_uri',
      refetchPerMinute: 5,
      refreshSeconds: 300,
    });
    expect(issuer?.requiredClaims).toContain('jti');
    expect(issuer?.senderConstrained).toBe('deny');
    const accepting = parseConfig(
      minimal.replace(
        'audiences: [crm-api]',
        'audiences: [crm-api]\n    sender_constrained: accept',
      ),
    );
    expect(accepting.issuers[0]?.senderConstrained).toBe('accept');
  });

  it('env overrides win over the file and are validated under the same key', () => {
    const config = parseConfig(minimal, {
      env: { MANDATE_HTTP_LISTEN: '127.0.0.1:0', MANDATE_LOG_LEVEL: 'warn' },
    });
    expect(config.listen.http.port).toBe(0);
    expect(config.logLevel).toBe('warn');
    expect(
      configErrorOf(() => parseConfig(minimal, { env: { MANDATE_GRPC_LISTEN: 'nope' } })).key,
    ).toBe('listen.grpc');
  });

  it.each([
    ['unknown top-level key', `${minimal}\nlisten_http: x\n`, 'listen_http'],
    ['no issuers', 'tenancy: { claim: t }\n', 'issuers'],
    [
      'alg none',
      minimal.replace('audiences: [crm-api]', 'audiences: [crm-api]\n    algorithms: [none]'),
      'issuers[0].algorithms[0]',
    ],
    [
      'HS256 without a secret',
      minimal.replace('audiences: [crm-api]', 'audiences: [crm-api]\n    algorithms: [HS256]'),
      'issuers[0].algorithms[0]',
    ],
    ['empty audiences', minimal.replace('[crm-api]', '[]'), 'issuers[0].audiences'],
    [
      'missing audiences',
      minimal.replace('    audiences: [crm-api]\n', ''),
      'issuers[0].audiences',
    ],
    [
      'two key sources',
      minimal.replace('audiences:', 'jwks_file: ./k.json\n    audiences:'),
      'issuers[0].jwks_uri',
    ],
    ['bad port', `${minimal}listen: { http: "127.0.0.1:99999" }\n`, 'listen.http'],
    ['wrong type', `${minimal}token: { max_token_bytes: "big" }\n`, 'token.max_token_bytes'],
    ['bad log level', `${minimal}log_level: loud\n`, 'log_level'],
    ['file sink without path', `${minimal}audit: { sink: file }\n`, 'audit.path'],
    ['short secret', minimal.replace(/jwks_uri: .*/, 'secret: short'), 'issuers[0].secret'],
    [
      'the replaced jwks_cooldown_seconds',
      minimal.replace(
        'audiences: [crm-api]',
        'audiences: [crm-api]\n    jwks_cooldown_seconds: 30',
      ),
      'issuers[0].jwks_cooldown_seconds',
    ],
    [
      'a negative jwks_refetch_per_minute',
      minimal.replace(
        'audiences: [crm-api]',
        'audiences: [crm-api]\n    jwks_refetch_per_minute: -1',
      ),
      'issuers[0].jwks_refetch_per_minute',
    ],
    [
      'an unknown sender_constrained mode',
      minimal.replace(
        'audiences: [crm-api]',
        'audiences: [crm-api]\n    sender_constrained: trust',
      ),
      'issuers[0].sender_constrained',
    ],
  ])('rejects %s naming the key', (_name, yaml, key) => {
    const err = configErrorOf(() => parseConfig(yaml));
    expect(err.key).toBe(key);
    expect(err.message).toContain(key);
  });

  it('takes admin tokens from the file or a comma-separated env list, and rejects short ones', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    expect(parseConfig(`${minimal}admin: { tokens: ["${a}"] }\n`).admin.tokens).toEqual([a]);
    expect(
      parseConfig(minimal, { env: { MANDATE_ADMIN_TOKENS: `${a}, ${b}` } }).admin.tokens,
    ).toEqual([a, b]);
    expect(parseConfig(minimal).admin.tokens).toEqual([]);
    expect(configErrorOf(() => parseConfig(`${minimal}admin: { tokens: ["short"] }\n`)).key).toBe(
      'admin.tokens[0]',
    );
  });

  it('rejects a duplicate issuer', () => {
    const twice = `issuers:\n${minimal.split('issuers:\n')[1]}${minimal.split('issuers:\n')[1]}`;
    expect(configErrorOf(() => parseConfig(twice)).key).toBe('issuers[1].issuer');
  });

  it('allows HS256 only with an explicit secret', () => {
    const config = parseConfig(
      minimal
        .replace(/jwks_uri: .*/, `secret: "${'s'.repeat(32)}"`)
        .replace('audiences: [crm-api]', 'audiences: [crm-api]\n    algorithms: [HS256]'),
    );
    expect(config.issuers[0]?.keys.kind).toBe('secret');
  });

  it('resolves relative paths against the config file folder and names an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-config-'));
    writeFileSync(join(dir, 'mandate.yaml'), `${minimal}policies: { dir: ./p }\n`);
    expect(loadConfigFile(join(dir, 'mandate.yaml')).policies.dir).toBe(join(dir, 'p'));
    expect(configErrorOf(() => loadConfigFile(join(dir, 'missing.yaml'))).key).toBe(
      'MANDATE_CONFIG',
    );
    expect(configErrorOf(() => parseConfig('a: [')).message).toMatch(/not valid YAML/);
  });
});

describe('relative paths', () => {
  it("resolve against the config file's folder in the file, against the current directory in env overrides", () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-paths-'));
    const path = join(dir, 'mandate.yaml');
    writeFileSync(
      path,
      `${minimal}policies:\n  dir: file-policies\ndev:\n  state_dir: file-state\n`,
    );
    const fromFile = loadConfigFile(path);
    expect(fromFile.policies.dir).toBe(join(dir, 'file-policies'));
    expect(fromFile.dev.stateDir).toBe(join(dir, 'file-state'));
    const fromEnv = loadConfigFile(path, {
      env: { MANDATE_POLICIES_DIR: 'env-policies', MANDATE_STATE_DIR: 'env-state' },
    });
    expect(fromEnv.policies.dir).toBe(resolve('env-policies'));
    expect(fromEnv.dev.stateDir).toBe(resolve('env-state'));
  });
});
