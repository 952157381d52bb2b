// The `policies:` config section: defaults, watch mode, bundles from files and servers, signing keys, errors naming the key.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configErrorOf, MINIMAL_ISSUERS } from '../helpers/config-text.js';
import { defaultConfig, parseConfig } from '../../src/config/load.js';

const issuers = MINIMAL_ISSUERS;

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

const indentPem = (pem: string) =>
  pem
    .trim()
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');

describe('policies config', () => {
  it('has a decision cache by default, sized or turned off by decision_cache_size', () => {
    expect(parseConfig(issuers).policies.decisionCacheSize).toBe(10_000);
    const off = parseConfig(`${issuers}policies: { decision_cache_size: 0 }\n`);
    expect(off.policies.decisionCacheSize).toBe(0);
  });

  it('has dev-friendly, fail-closed defaults', () => {
    const config = parseConfig(issuers, { baseDir: '/srv' });
    expect(config.policies).toEqual({
      dir: '/srv/policies',
      watch: false,
      watchDebounceMs: 100,
      onTenantRemoved: 'deny',
      tenantsPerModule: 32,
      decisionCacheSize: 10_000,
      cacheDir: '/srv/.mandate/policy-cache',
      persistDir: '/srv/.mandate/bundles',
      bundles: [],
      keys: {},
    });
  });

  it('watches the policy directory by default in dev mode only, and either can be changed', () => {
    expect(defaultConfig().policies.watch).toBe(true);
    const devOff = parseConfig('dev: { enabled: true }\npolicies: { watch: false }\n');
    expect(devOff.policies.watch).toBe(false);
    expect(parseConfig(issuers).policies.watch).toBe(false);
  });

  it('reads watch mode, bundles from files and servers, and keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-keys-'));
    writeFileSync(join(dir, 'bundle-key.pem'), PEM);
    const config = parseConfig(
      `${issuers}
policies:
  dir: ./p
  watch: true
  watch_debounce_ms: 50
  on_tenant_removed: base_only
  tenants_per_module: 1
  keys:
    global: { algorithm: ES256, key_file: ./bundle-key.pem, scope: read }
    inline:
      algorithm: ES256
      key: |
${indentPem(PEM)}
  bundles:
    base:
      url: https://bundles.example.com/base.tar.gz
      headers: { authorization: "Bearer x" }
      polling: { min_delay_seconds: 10, max_delay_seconds: 20, long_polling_timeout_seconds: 30 }
      signing: { keyid: global, scope: read, exclude_files: [extra.json] }
    tenants/acme_inc:
      file: ./out/tenants/acme_inc.tar.gz
`,
      { baseDir: dir },
    );
    expect(config.policies).toMatchObject({
      dir: join(dir, 'p'),
      watch: true,
      watchDebounceMs: 50,
      onTenantRemoved: 'base_only',
      tenantsPerModule: 1,
      keys: {
        global: { algorithm: 'ES256', key: PEM, scope: 'read' },
        inline: { algorithm: 'ES256' },
      },
      bundles: [
        {
          unit: 'base',
          source: 'url',
          url: 'https://bundles.example.com/base.tar.gz',
          headers: { authorization: 'Bearer x' },
          polling: { minDelaySeconds: 10, maxDelaySeconds: 20, longPollingTimeoutSeconds: 30 },
          timeoutMs: 10_000,
          persist: true,
          signing: { keyId: 'global', scope: 'read', excludeFiles: ['extra.json'] },
        },
        {
          unit: 'tenants/acme_inc',
          tenant: 'acme_inc',
          source: 'file',
          path: join(dir, 'out/tenants/acme_inc.tar.gz'),
        },
      ],
    });
  });

  it.each([
    ['policies: { on_tenant_removed: allow }', 'policies.on_tenant_removed'],
    ['policies: { watch: "yes" }', 'policies.watch'],
    ['policies: { tenants_per_module: 0 }', 'policies.tenants_per_module'],
    ['policies: { decision_cache_size: -1 }', 'policies.decision_cache_size'],
    ['policies: { decision_cache_size: "big" }', 'policies.decision_cache_size'],
    ['policies: { bundles: { "tenants/../x": { file: a } } }', 'policies.bundles.tenants/../x'],
    [
      'policies: { bundles: { base: { file: a, url: "https://x" } } }',
      'policies.bundles.base.file',
    ],
    ['policies: { bundles: { base: { url: "ftp://x" } } }', 'policies.bundles.base.url'],
    [
      'policies: { bundles: { base: { file: a, persist: true } } }',
      'policies.bundles.base.persist',
    ],
    [
      'policies: { bundles: { base: { url: "https://x", polling: { min_delay_seconds: 30, max_delay_seconds: 10 } } } }',
      'policies.bundles.base.polling.max_delay_seconds',
    ],
    [
      'policies: { bundles: { base: { url: "https://x", signing: { keyid: nope } } } }',
      'policies.bundles.base.signing.keyid',
    ],
    [
      'policies: { bundles: { base: { url: "https://x", signing: {} } } }',
      'policies.bundles.base.signing',
    ],
    ['policies: { keys: { k: { algorithm: RS256, key: "not a pem" } } }', 'policies.keys.k.key'],
    ['policies: { keys: { k: { algorithm: HS256, key: short } } }', 'policies.keys.k.key'],
    ['policies: { keys: { k: { algorithm: none, key: x } } }', 'policies.keys.k.algorithm'],
    ['policies: { bundle: {} }', 'policies.bundle'],
  ])('rejects %s naming %s', (yaml, key) => {
    expect(configErrorOf(() => parseConfig(`${issuers}\n${yaml}\n`)).key).toBe(key);
  });
});
