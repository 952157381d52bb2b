// Resolves the validated `policies:` section: bundle sources, signing keys (read from files) and the rules between their keys.
import { readFileSync } from 'node:fs';
import type { Static } from '@sinclair/typebox';
import { ConfigError } from './errors.js';
import { URL_BUNDLE_DEFAULTS, type policiesSchema } from './schema/policies.js';

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

type PoliciesFile = Static<typeof policiesSchema>;
type BundleFile = PoliciesFile['bundles'][string];
type KeyFile = PoliciesFile['keys'][string];

function resolveKey(id: string, k: KeyFile, at: (p: string) => string): BundleKeyConfig {
  const where = `policies.keys.${id}`;
  if ((k.key === undefined) === (k.key_file === undefined)) {
    throw new ConfigError(`${where}.key`, 'exactly one of key or key_file is required');
  }
  let key: string;
  if (k.key !== undefined) {
    key = k.key;
  } else {
    const path = at(k.key_file as string);
    try {
      key = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${where}.key_file`, `cannot read ${path}: ${(err as Error).message}`);
    }
  }
  if (k.algorithm.startsWith('HS')) {
    if (Buffer.byteLength(key) < 32)
      throw new ConfigError(`${where}.key`, 'an HMAC secret must be at least 32 bytes');
  } else if (!key.includes('-----BEGIN')) {
    throw new ConfigError(`${where}.key`, `${k.algorithm} needs a PEM public key or certificate`);
  }
  return { algorithm: k.algorithm, key, ...(k.scope !== undefined && { scope: k.scope }) };
}

function resolveSigning(
  where: string,
  s: NonNullable<BundleFile['signing']>,
  keys: Record<string, BundleKeyConfig>,
): BundleSigningConfig {
  if (s.keyid !== undefined && keys[s.keyid] === undefined) {
    throw new ConfigError(`${where}.keyid`, `no key ${JSON.stringify(s.keyid)} in policies.keys`);
  }
  if (Object.keys(keys).length === 0) {
    throw new ConfigError(where, 'needs at least one key in policies.keys');
  }
  return {
    ...(s.keyid !== undefined && { keyId: s.keyid }),
    ...(s.scope !== undefined && { scope: s.scope }),
    excludeFiles: s.exclude_files,
  };
}

function resolveBundle(
  unit: string,
  b: BundleFile,
  at: (p: string) => string,
  keys: Record<string, BundleKeyConfig>,
): BundleSourceConfig {
  const where = `policies.bundles.${unit}`;
  // The schema checked the unit name; its tenant part is the tenant id.
  const tenant = unit.startsWith('tenants/') ? unit.slice('tenants/'.length) : undefined;
  const base = {
    unit,
    ...(tenant !== undefined && { tenant }),
    ...(b.signing !== undefined && {
      signing: resolveSigning(`${where}.signing`, b.signing, keys),
    }),
  };
  if ((b.file === undefined) === (b.url === undefined)) {
    throw new ConfigError(`${where}.file`, 'exactly one of file or url is required');
  }
  if (b.file !== undefined) {
    for (const key of ['headers', 'polling', 'timeout_ms', 'persist'] as const) {
      if (b[key] !== undefined)
        throw new ConfigError(`${where}.${key}`, 'only applies to url bundles');
    }
    return { ...base, source: 'file', path: at(b.file) };
  }
  const polling = b.polling ?? {};
  const minDelaySeconds = polling.min_delay_seconds ?? URL_BUNDLE_DEFAULTS.minDelaySeconds;
  const maxDelaySeconds =
    polling.max_delay_seconds ?? Math.max(URL_BUNDLE_DEFAULTS.maxDelaySeconds, minDelaySeconds);
  if (maxDelaySeconds < minDelaySeconds) {
    throw new ConfigError(
      `${where}.polling.max_delay_seconds`,
      'must not be less than min_delay_seconds',
    );
  }
  return {
    ...base,
    source: 'url',
    url: b.url as string,
    headers: b.headers ?? {},
    polling: {
      minDelaySeconds,
      maxDelaySeconds,
      ...(polling.long_polling_timeout_seconds !== undefined && {
        longPollingTimeoutSeconds: polling.long_polling_timeout_seconds,
      }),
    },
    timeoutMs: b.timeout_ms ?? URL_BUNDLE_DEFAULTS.timeoutMs,
    persist: b.persist ?? URL_BUNDLE_DEFAULTS.persist,
  };
}

/** Resolves `policies:`; relative paths resolve with `at`, caches and persisted bundles live in `stateDir`. */
export function resolvePolicies(
  raw: PoliciesFile,
  at: (p: string) => string,
  stateDir: string,
  devMode = false,
): PolicyConfig {
  const keys: Record<string, BundleKeyConfig> = {};
  for (const [id, k] of Object.entries(raw.keys)) keys[id] = resolveKey(id, k, at);
  const bundles = Object.entries(raw.bundles).map(([unit, b]) => resolveBundle(unit, b, at, keys));
  return {
    dir: at(raw.dir),
    ...(raw.opa_path !== undefined ? { opaPath: at(raw.opa_path) } : {}),
    // Dev mode watches by default: editing a tenant policy and seeing it take effect is the tutorial.
    watch: raw.watch ?? devMode,
    watchDebounceMs: raw.watch_debounce_ms,
    onTenantRemoved: raw.on_tenant_removed,
    tenantsPerModule: raw.tenants_per_module,
    decisionCacheSize: raw.decision_cache_size,
    cacheDir: at(raw.cache_dir ?? `${stateDir}/policy-cache`),
    persistDir: at(raw.persist_dir ?? `${stateDir}/bundles`),
    bundles,
    keys,
  };
}
