// Turns YAML text plus environment overrides into one validated, frozen MandateConfig.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { resolveAdminJwt } from './admin-jwt.js';
import { resolveAudit } from './audit.js';
import { ConfigError } from './errors.js';
import { resolveEnvoy } from './envoy.js';
import { resolveExchange } from './exchange.js';
import { resolveMcp } from './mcp.js';
import { resolveProxy } from './proxy.js';
import { devIssuer, resolveIssuer } from './issuer.js';
import { resolvePolicies } from './policies.js';
import { resolveRevocation } from './revocation.js';
import { validateConfigDocument } from './validate.js';
import type { ListenAddress, MandateConfig } from './types.js';

export { RFC9068_REQUIRED_CLAIMS } from './schema/issuer.js';
export { DEV_AUDIENCE, DEV_ISSUER } from './schema/root.js';

/** Environment variables that override the file, documented in docs/configuration.md. */
export const ENV_OVERRIDES = {
  MANDATE_HTTP_LISTEN: 'listen.http',
  MANDATE_GRPC_LISTEN: 'listen.grpc',
  MANDATE_ADMIN_LISTEN: 'listen.admin',
  MANDATE_POLICIES_DIR: 'policies.dir',
  MANDATE_OPA_PATH: 'policies.opa_path',
  MANDATE_LOG_LEVEL: 'log_level',
  MANDATE_AUDIT_SINK: 'audit.sink',
  MANDATE_STATE_DIR: 'dev.state_dir',
  MANDATE_ADMIN_TOKENS: 'admin.tokens',
  MANDATE_EXCHANGE_CLIENT_SECRET: 'exchange.client_secret',
  MANDATE_REVOCATION_STORE: 'revocation.store',
  MANDATE_REDIS_URL: 'revocation.redis.url',
} as const;

/**
 * Overrides whose value is a path: they resolve against the current directory, as a shell user
 * expects (and as `mandate policy` resolves MANDATE_POLICIES_DIR), not against the config file's folder.
 */
const PATH_OVERRIDES: ReadonlySet<string> = new Set([
  'MANDATE_POLICIES_DIR',
  'MANDATE_OPA_PATH',
  'MANDATE_STATE_DIR',
]);

/** Overrides whose value is a comma-separated list. */
const LIST_OVERRIDES: ReadonlySet<string> = new Set(['MANDATE_ADMIN_TOKENS']);

export interface LoadOptions {
  /** Environment to read overrides from. Default: none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths (the config file's folder, or the working directory). */
  readonly baseDir?: string;
}

/** Reads and validates a YAML config file; relative paths in it resolve against its folder. */
export function loadConfigFile(path: string, options: LoadOptions = {}): MandateConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('MANDATE_CONFIG', `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, { ...options, baseDir: options.baseDir ?? dirname(resolve(path)) });
}

/** Validates YAML text. An empty document means the built-in dev defaults. */
export function parseConfig(text: string, options: LoadOptions = {}): MandateConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('(file)', `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return buildConfig(doc ?? {}, options);
}

/** Built-in defaults: dev mode, nothing else needed. */
export function defaultConfig(options: LoadOptions = {}): MandateConfig {
  return buildConfig({ dev: { enabled: true } }, options);
}

/** Schema validation (types, bounds, unknown keys, defaults), then the rules across keys. */
function buildConfig(doc: unknown, options: LoadOptions): MandateConfig {
  const withEnv = applyEnv(doc, options.env ?? {});
  // An empty `exchange:` means exchange is off, as an absent one.
  if (isEmptyMapping(withEnv, 'exchange')) delete (withEnv as Record<string, unknown>)['exchange'];
  const raw = validateConfigDocument(withEnv);
  const baseDir = options.baseDir ?? process.cwd();
  const at = (p: string) => resolve(baseDir, p);

  const stateDir = at(raw.dev.state_dir);
  const dev = {
    enabled: raw.dev.enabled,
    stateDir,
    issuer: raw.dev.issuer,
    audience: raw.dev.audience,
  };
  const issuers = raw.issuers.map((iss, i) => resolveIssuer(`issuers[${i}]`, iss, at));
  if (dev.enabled) {
    issuers.push(devIssuer(dev.issuer, dev.audience, resolve(stateDir, 'dev-jwks.json')));
  }
  checkIssuers(issuers.map((iss) => iss.issuer));

  const policies = resolvePolicies(raw.policies, at, stateDir, dev.enabled);
  const exchange = raw.exchange ? resolveExchange(raw.exchange, at) : undefined;
  const mcp = raw.mcp ? resolveMcp(raw.mcp, parseListen) : undefined;
  if (mcp?.upstreamToken !== undefined && exchange === undefined) {
    throw new ConfigError(
      'mcp.upstream_token',
      'needs the exchange: section (the client that exchanges tokens)',
    );
  }
  const proxy = raw.proxy ? resolveProxy(raw.proxy, parseListen) : undefined;
  const config: MandateConfig = {
    listen: {
      http: parseListen('listen.http', raw.listen.http),
      grpc: parseListen('listen.grpc', raw.listen.grpc),
      admin: parseListen('listen.admin', raw.listen.admin),
    },
    issuers,
    token: {
      maxTokenBytes: raw.token.max_token_bytes,
      cacheMaxEntries: raw.token.cache_max_entries,
    },
    tenancy: { claim: raw.tenancy.claim },
    policies,
    audit: resolveAudit(raw.audit, at, stateDir),
    http: { bodyLimitBytes: raw.http.body_limit_bytes },
    limits: { maxNestingDepth: raw.limits.max_nesting_depth },
    admin: {
      tokens: raw.admin.tokens,
      ...(raw.admin.jwt ? { jwt: resolveAdminJwt(raw.admin.jwt, at) } : {}),
    },
    dev,
    revocation: resolveRevocation(raw.revocation, at, stateDir),
    envoy: resolveEnvoy(raw.envoy, at, policies.dir),
    ...(exchange ? { exchange } : {}),
    ...(mcp ? { mcp } : {}),
    ...(proxy ? { proxy } : {}),
    logLevel: raw.log_level,
  };
  return deepFreeze(config);
}

/** At least one issuer (dev mode brings its own), and no `iss` twice. */
function checkIssuers(names: readonly string[]): void {
  if (names.length === 0) {
    throw new ConfigError('issuers', 'at least one issuer is required (or set dev.enabled: true)');
  }
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i)
      throw new ConfigError(`issuers[${i}].issuer`, `duplicate issuer ${name}`);
  });
}

/** Parses `host:port` or `[v6]:port`. */
export function parseListen(key: string, text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535)
    throw new ConfigError(key, `must be host:port, got ${JSON.stringify(text)}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

function isEmptyMapping(doc: unknown, key: string): boolean {
  if (typeof doc !== 'object' || doc === null) return false;
  const v = (doc as Record<string, unknown>)[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

/** Copies env overrides into the document at their dotted key, so validation names the same key. */
function applyEnv(doc: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parts = path.split('.');
    let cur = out;
    for (const part of parts.slice(0, -1)) {
      const next = cur[part];
      cur[part] = typeof next === 'object' && next !== null ? { ...next } : {};
      cur = cur[part] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1] as string] = LIST_OVERRIDES.has(name)
      ? value.split(',').map((v) => v.trim())
      : PATH_OVERRIDES.has(name)
        ? resolve(value)
        : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
