// The `policies:` config section: the policy directory, dev watch mode, bundles from files or a bundle server, signing keys.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import type { Section } from './reader.js';
import { ASYMMETRIC_ALGORITHMS, SYMMETRIC_ALGORITHMS } from './types.js';

/** What a tenant whose directory disappears at run time gets: base alone, or every request denied. */
export type OnTenantRemoved = 'base_only' | 'deny';

/** OPA's bundle polling settings. */
export interface BundlePollingConfig {
  /** Shortest wait between two polls, seconds. Default 60. */
  readonly minDelaySeconds: number;
  /** Longest wait between two polls (and longest back-off after errors), seconds. Default 120. */
  readonly maxDelaySeconds: number;
  /**
   * Ask the server to hold the request up to this long (`Prefer: wait=N`); used while the server
   * answers with OPA's bundle content type. Default: off (periodic polling).
   */
  readonly longPollingTimeoutSeconds?: number;
}

/** How a bundle's `.signatures.json` is verified (OPA's `signing`). Present: unsigned bundles are refused. */
export interface BundleSigningConfig {
  /** Key id in `policies.keys`; default: the JWT's `kid`. */
  readonly keyId?: string;
  /** Required `scope` claim; default: the key's `scope`. */
  readonly scope?: string;
  /** Files left out of verification. Default none. */
  readonly excludeFiles: readonly string[];
}

interface BundleSourceBase {
  /** `base` or `tenants/<id>`: the unit this bundle provides (instead of the policy directory). */
  readonly unit: string;
  /** The tenant id, for tenant units. */
  readonly tenant?: string;
  readonly signing?: BundleSigningConfig;
}

/** A bundle file on disk (e.g. written by `mandate policy build`). Re-read on change in watch mode. */
export interface FileBundleSource extends BundleSourceBase {
  readonly source: 'file';
  readonly path: string;
}

/** A bundle server polled with OPA's protocol (ETag / If-None-Match, 304, long polling). */
export interface UrlBundleSource extends BundleSourceBase {
  readonly source: 'url';
  readonly url: string;
  /** Extra request headers (e.g. credentials); never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly polling: BundlePollingConfig;
  /** Per-request timeout, milliseconds (long polls get this on top of their wait). Default 10000. */
  readonly timeoutMs: number;
  /** Keep the last activated bundle on disk and start from it when the server is down. Default true. */
  readonly persist: boolean;
}

export type BundleSourceConfig = FileBundleSource | UrlBundleSource;

/** A bundle verification key (OPA's `keys.<id>`). */
export interface BundleKeyConfig {
  /** JWS algorithm: RS/PS/ES 256/384/512, EdDSA, or HS256/384/512 with a shared secret. */
  readonly algorithm: string;
  /** PEM public key or certificate, or the shared secret. */
  readonly key: string;
  /** Scope implied for bundles verified with this key when their `signing.scope` is unset. */
  readonly scope?: string;
}

export interface PolicyConfig {
  /** Directory with `base/` and `tenants/<tenant>/`. Default ./policies. */
  readonly dir: string;
  /** Path of the `opa` binary used to compile Rego to Wasm. Default: .tools/opa, else `opa` on PATH. */
  readonly opaPath?: string;
  /** Watch `dir` and recompile only the unit that changed. Default: true in dev mode, else false. */
  readonly watch?: boolean;
  /** Quiet time after the last file event before recompiling, milliseconds. Default 100. */
  readonly watchDebounceMs?: number;
  /** A tenant directory removed while running: `deny` (default, see the README) or `base_only`. */
  readonly onTenantRemoved?: OnTenantRemoved;
  /**
   * Tenants compiled into one Wasm module (each with its own data). 1 compiles every tenant alone.
   * Default 32: a thousand tenants in ~32 modules (see the README's "A thousand tenants").
   */
  readonly tenantsPerModule?: number;
  /**
   * Policy outcomes remembered per verified token and question (action, resource, context), so a
   * repeated check skips Wasm. Units that read the clock are never cached. 0 disables. Default 10000.
   */
  readonly decisionCacheSize?: number;
  /** Compiled modules keyed by content hash, so a restart does not recompile. Default `<dev.state_dir>/policy-cache`; unset: no cache. */
  readonly cacheDir?: string;
  /** Where the last activated bundle of each url unit is kept. Default `<dev.state_dir>/bundles`. */
  readonly persistDir?: string;
  /** Units served from bundles instead of `dir`. Default none. */
  readonly bundles?: readonly BundleSourceConfig[];
  /** Bundle verification keys by id. */
  readonly keys?: Readonly<Record<string, BundleKeyConfig>>;
}

/** Bundle signing algorithms: every JWS algorithm mandate accepts for tokens. */
const KEY_ALGORITHMS = [...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS] as const;

const UNIT_NAME = /^(base|tenants\/([A-Za-z0-9_][A-Za-z0-9_.-]*))$/;

function readKeys(s: Section, at: (p: string) => string): Record<string, BundleKeyConfig> {
  const keys: Record<string, BundleKeyConfig> = {};
  for (const id of Object.keys(s.value)) {
    const k = s.section(id).only(['algorithm', 'key', 'key_file', 'scope']);
    const algorithm = k.oneOf('algorithm', KEY_ALGORITHMS, 'RS256');
    if (k.has('key') === k.has('key_file')) {
      throw new ConfigError(k.key('key'), 'exactly one of key or key_file is required');
    }
    let key: string;
    if (k.has('key')) {
      key = k.string('key');
    } else {
      const path = at(k.string('key_file'));
      try {
        key = readFileSync(path, 'utf8');
      } catch (err) {
        throw new ConfigError(k.key('key_file'), `cannot read ${path}: ${(err as Error).message}`);
      }
    }
    if (algorithm.startsWith('HS')) {
      if (Buffer.byteLength(key) < 32)
        throw new ConfigError(k.key('key'), 'an HMAC secret must be at least 32 bytes');
    } else if (!key.includes('-----BEGIN')) {
      throw new ConfigError(k.key('key'), `${algorithm} needs a PEM public key or certificate`);
    }
    const scope = k.optionalString('scope');
    keys[id] = { algorithm, key, ...(scope !== undefined && { scope }) };
  }
  return keys;
}

function readSigning(s: Section, keys: Record<string, BundleKeyConfig>): BundleSigningConfig {
  s.only(['keyid', 'scope', 'exclude_files']);
  const keyId = s.optionalString('keyid');
  if (keyId !== undefined && keys[keyId] === undefined) {
    throw new ConfigError(s.key('keyid'), `no key ${JSON.stringify(keyId)} in policies.keys`);
  }
  if (Object.keys(keys).length === 0) {
    throw new ConfigError(s.path, 'needs at least one key in policies.keys');
  }
  const scope = s.optionalString('scope');
  return {
    ...(keyId !== undefined && { keyId }),
    ...(scope !== undefined && { scope }),
    excludeFiles: s.stringList('exclude_files', []),
  };
}

function readBundle(
  unit: string,
  s: Section,
  at: (p: string) => string,
  keys: Record<string, BundleKeyConfig>,
): BundleSourceConfig {
  s.only(['file', 'url', 'headers', 'polling', 'timeout_ms', 'persist', 'signing']);
  const match = UNIT_NAME.exec(unit);
  if (match === null) {
    throw new ConfigError(s.path, 'bundle units are named base or tenants/<tenant id>');
  }
  const base = {
    unit,
    ...(match[2] !== undefined && { tenant: match[2] }),
    ...(s.has('signing') && { signing: readSigning(s.section('signing'), keys) }),
  };
  if (s.has('file') === s.has('url')) {
    throw new ConfigError(s.key('file'), 'exactly one of file or url is required');
  }
  if (s.has('file')) {
    for (const key of ['headers', 'polling', 'timeout_ms', 'persist']) {
      if (s.has(key)) throw new ConfigError(s.key(key), 'only applies to url bundles');
    }
    return { ...base, source: 'file', path: at(s.string('file')) };
  }
  const url = s.string('url');
  if (!/^https?:\/\//.test(url)) throw new ConfigError(s.key('url'), 'must be an http(s) URL');
  const polling = s
    .section('polling')
    .only(['min_delay_seconds', 'max_delay_seconds', 'long_polling_timeout_seconds']);
  const minDelaySeconds = polling.integer('min_delay_seconds', 60, 1, 86_400);
  const maxDelaySeconds = polling.integer(
    'max_delay_seconds',
    Math.max(120, minDelaySeconds),
    1,
    86_400,
  );
  if (maxDelaySeconds < minDelaySeconds) {
    throw new ConfigError(
      polling.key('max_delay_seconds'),
      'must not be less than min_delay_seconds',
    );
  }
  const headersSection = s.section('headers');
  const headers: Record<string, string> = {};
  for (const name of Object.keys(headersSection.value)) headers[name] = headersSection.string(name);
  return {
    ...base,
    source: 'url',
    url,
    headers,
    polling: {
      minDelaySeconds,
      maxDelaySeconds,
      ...(polling.has('long_polling_timeout_seconds') && {
        longPollingTimeoutSeconds: polling.integer('long_polling_timeout_seconds', 0, 1, 3600),
      }),
    },
    timeoutMs: s.integer('timeout_ms', 10_000, 100, 600_000),
    persist: s.boolean('persist', true),
  };
}

/** Reads `policies:`; relative paths resolve with `at`, caches and persisted bundles live in `stateDir`. */
export function readPoliciesSection(
  s: Section,
  at: (p: string) => string,
  stateDir: string,
  devMode = false,
): PolicyConfig {
  s.only([
    'dir',
    'opa_path',
    'watch',
    'watch_debounce_ms',
    'on_tenant_removed',
    'tenants_per_module',
    'decision_cache_size',
    'cache_dir',
    'persist_dir',
    'bundles',
    'keys',
  ]);
  const opaPath = s.optionalString('opa_path');
  const keys = readKeys(s.section('keys'), at);
  const bundlesSection = s.section('bundles');
  const bundles = Object.keys(bundlesSection.value).map((unit) =>
    readBundle(unit, bundlesSection.section(unit), at, keys),
  );
  return {
    dir: at(s.string('dir', 'policies')),
    ...(opaPath ? { opaPath: at(opaPath) } : {}),
    // Dev mode watches by default: editing a tenant policy and seeing it take effect is the tutorial.
    watch: s.boolean('watch', devMode),
    watchDebounceMs: s.integer('watch_debounce_ms', 100, 0, 60_000),
    onTenantRemoved: s.oneOf('on_tenant_removed', ['deny', 'base_only'] as const, 'deny'),
    tenantsPerModule: s.integer('tenants_per_module', 32, 1, 1000),
    decisionCacheSize: s.integer('decision_cache_size', 10_000, 0, 10_000_000),
    cacheDir: at(s.string('cache_dir', `${stateDir}/policy-cache`)),
    persistDir: at(s.string('persist_dir', `${stateDir}/bundles`)),
    bundles,
    keys,
  };
}
