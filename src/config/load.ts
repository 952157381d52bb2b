// Turns YAML text plus environment overrides into one validated, frozen MandateConfig.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readAuditConfig } from './audit.js';
import { ConfigError } from './errors.js';
import { readEnvoySection } from './envoy.js';
import { readExchange } from './exchange.js';
import { Section } from './reader.js';
import { readAdminJwt } from './admin-jwt.js';
import { readPoliciesSection } from './policies.js';
import { readRevocationSection } from './revocation.js';
import { DEFAULT_MAX_NESTING_DEPTH } from '../lib/nesting.js';
import {
  ASYMMETRIC_ALGORITHMS,
  SYMMETRIC_ALGORITHMS,
  type Algorithm,
  type IssuerConfig,
  type KeySource,
  type ListenAddress,
  type MandateConfig,
} from './types.js';

/** RFC 9068 §2.2 required claims. */
export const RFC9068_REQUIRED_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];

export const DEV_ISSUER = 'https://dev.mandate.local';
export const DEV_AUDIENCE = 'dev-api';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Environment variables that override the file, documented in the README. */
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

function buildConfig(doc: unknown, options: LoadOptions): MandateConfig {
  const root = Section.of('', applyEnv(doc, options.env ?? {}));
  root.only([
    'listen',
    'issuers',
    'token',
    'tenancy',
    'policies',
    'audit',
    'http',
    'admin',
    'dev',
    'envoy',
    'exchange',
    'revocation',
    'limits',
    'log_level',
  ]);
  const baseDir = options.baseDir ?? process.cwd();
  const at = (p: string) => resolve(baseDir, p);

  const listen = root.section('listen').only(['http', 'grpc', 'admin']);
  const devSection = root.section('dev').only(['enabled', 'state_dir', 'issuer', 'audience']);
  const dev = {
    enabled: devSection.boolean('enabled', false),
    stateDir: at(devSection.string('state_dir', '.mandate')),
    issuer: devSection.string('issuer', DEV_ISSUER),
    audience: devSection.string('audience', DEV_AUDIENCE),
  };

  const issuers = root.list('issuers').map(readIssuer(at));
  if (dev.enabled) issuers.push(devIssuer(dev.issuer, dev.audience, dev.stateDir));
  if (issuers.length === 0) {
    throw new ConfigError('issuers', 'at least one issuer is required (or set dev.enabled: true)');
  }
  const seen = new Set<string>();
  issuers.forEach((iss, i) => {
    if (seen.has(iss.issuer))
      throw new ConfigError(`issuers[${i}].issuer`, `duplicate issuer ${iss.issuer}`);
    seen.add(iss.issuer);
  });

  const token = root.section('token').only(['max_token_bytes', 'cache_max_entries']);
  const tenancy = root.section('tenancy').only(['claim']);
  const policies = readPoliciesSection(root.section('policies'), at, dev.stateDir, dev.enabled);
  const http = root.section('http').only(['body_limit_bytes']);
  const limits = root.section('limits').only(['max_nesting_depth']);
  const admin = root.section('admin').only(['tokens', 'jwt']);
  const adminTokens = admin.stringList('tokens', []);
  adminTokens.forEach((t, i) => {
    if (t.length < 32)
      throw new ConfigError(`admin.tokens[${i}]`, 'must be at least 32 characters');
  });
  const adminJwt = admin.has('jwt')
    ? readAdminJwt(admin.section('jwt'), readIssuer(at))
    : undefined;

  const exchange = readExchange(root.section('exchange'), at);

  const config: MandateConfig = {
    listen: {
      http: parseListen(listen.key('http'), listen.string('http', '127.0.0.1:8181')),
      grpc: parseListen(listen.key('grpc'), listen.string('grpc', '127.0.0.1:9191')),
      admin: parseListen(listen.key('admin'), listen.string('admin', '127.0.0.1:8182')),
    },
    issuers,
    token: {
      maxTokenBytes: token.integer('max_token_bytes', 16_384, 512, 1_048_576),
      cacheMaxEntries: token.integer('cache_max_entries', 10_000, 0, 10_000_000),
    },
    tenancy: { claim: tenancy.string('claim', 'tenant') },
    policies,
    audit: readAuditConfig(root.section('audit'), at, dev.stateDir),
    http: { bodyLimitBytes: http.integer('body_limit_bytes', 65_536, 1024, 16_777_216) },
    limits: {
      maxNestingDepth: limits.integer('max_nesting_depth', DEFAULT_MAX_NESTING_DEPTH, 1, 1000),
    },
    admin: { tokens: adminTokens, ...(adminJwt ? { jwt: adminJwt } : {}) },
    dev,
    revocation: readRevocationSection(root.section('revocation'), at, dev.stateDir),
    envoy: readEnvoySection(root.section('envoy'), at, policies.dir),
    ...(exchange ? { exchange } : {}),
    logLevel: root.oneOf('log_level', LOG_LEVELS, 'info'),
  };
  return deepFreeze(config);
}

function readIssuer(at: (p: string) => string) {
  return (s: Section): IssuerConfig => {
    s.only([
      'issuer',
      'jwks_uri',
      'jwks_file',
      'secret',
      'audiences',
      'algorithms',
      'token_types',
      'clock_tolerance_seconds',
      'required_claims',
      'jwks_refresh_seconds',
      'jwks_cooldown_seconds',
      'jwks_refetch_per_minute',
      'jwks_timeout_ms',
      'max_token_lifetime_seconds',
      'sender_constrained',
    ]);
    const issuer = s.string('issuer');
    const sources = ['jwks_uri', 'jwks_file', 'secret'].filter((k) => s.has(k));
    if (sources.length !== 1) {
      throw new ConfigError(
        s.key('jwks_uri'),
        'exactly one of jwks_uri, jwks_file or secret is required',
      );
    }
    if (s.has('jwks_cooldown_seconds')) {
      // One fixed window let a bogus kid every window delay a real rotation; a bucket replaced it.
      throw new ConfigError(
        s.key('jwks_cooldown_seconds'),
        'was replaced by jwks_refetch_per_minute (a token bucket: default 5)',
      );
    }
    let keys: KeySource;
    if (s.has('jwks_uri')) {
      const uri = s.string('jwks_uri');
      if (!/^https?:\/\//.test(uri))
        throw new ConfigError(s.key('jwks_uri'), 'must be an http(s) URL');
      keys = {
        kind: 'jwks_uri',
        uri,
        refreshSeconds: s.integer('jwks_refresh_seconds', 300, 1, 86_400),
        refetchPerMinute: s.integer('jwks_refetch_per_minute', 5, 0, 600),
        timeoutMs: s.integer('jwks_timeout_ms', 5000, 100, 60_000),
      };
    } else if (s.has('jwks_file')) {
      keys = { kind: 'jwks_file', path: at(s.string('jwks_file')) };
    } else {
      const secret = s.string('secret');
      if (Buffer.byteLength(secret) < 32)
        throw new ConfigError(s.key('secret'), 'must be at least 32 bytes');
      keys = { kind: 'secret', secret };
    }
    const algorithms = s.stringList('algorithms', ['RS256', 'ES256']);
    algorithms.forEach((alg, i) => {
      const key = `${s.key('algorithms')}[${i}]`;
      if ((SYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
        if (keys.kind !== 'secret')
          throw new ConfigError(key, `${alg} is only allowed with an explicit secret`);
      } else if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new ConfigError(
          key,
          `unsupported algorithm ${JSON.stringify(alg)} ("none" is never allowed)`,
        );
      } else if (keys.kind === 'secret') {
        throw new ConfigError(key, `${alg} needs jwks_uri or jwks_file, not secret`);
      }
    });
    const audiences = s.stringList('audiences');
    if (audiences.length === 0)
      throw new ConfigError(s.key('audiences'), 'must list at least one audience');
    const tokenTypes = s.has('token_types') ? s.stringList('token_types') : undefined;
    return {
      issuer,
      keys,
      audiences,
      algorithms: algorithms as readonly Algorithm[],
      ...(tokenTypes ? { tokenTypes } : {}),
      clockToleranceSeconds: s.integer('clock_tolerance_seconds', 30, 0, 600),
      requiredClaims: s.stringList('required_claims', RFC9068_REQUIRED_CLAIMS),
      ...(s.has('max_token_lifetime_seconds')
        ? { maxTokenLifetimeSeconds: s.integer('max_token_lifetime_seconds', 0, 60, 31_536_000) }
        : {}),
      senderConstrained: s.oneOf('sender_constrained', ['deny', 'accept'] as const, 'deny'),
    };
  };
}

function devIssuer(issuer: string, audience: string, stateDir: string): IssuerConfig {
  return {
    issuer,
    keys: { kind: 'jwks_file', path: resolve(stateDir, 'dev-jwks.json') },
    audiences: [audience],
    algorithms: ['ES256'],
    tokenTypes: ['at+jwt'],
    clockToleranceSeconds: 30,
    requiredClaims: RFC9068_REQUIRED_CLAIMS,
  };
}

/** Parses `host:port` or `[v6]:port`. */
export function parseListen(key: string, text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535)
    throw new ConfigError(key, `must be host:port, got ${JSON.stringify(text)}`);
  return { host: (m[1] ?? m[2]) as string, port };
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
