// The `envoy:` config section: ext_authz adapters, route → action mapping, identity headers, dry-run, OPA-Envoy compatibility.
import { ConfigError } from './errors.js';
import type { Section } from './reader.js';

/** One configured route: method(s) + path template → action and resource. */
export interface EnvoyRouteConfig {
  /** Upper-case methods this route matches; `['*']` matches every method. */
  readonly methods: readonly string[];
  /** Path template, e.g. `/v1/contacts/{id}`; `{name}` captures one segment, a final `{name*}` the rest. */
  readonly path: string;
  /** Action asked for, e.g. `contacts.update`; may use `{name}` captures and `{method}`. */
  readonly action: string;
  /** Resource the action is on; `type` and `id` may use `{name}` captures. */
  readonly resource?: { readonly type: string; readonly id?: string };
  /** Tenant the request names, e.g. `{org}` from the path; checked against the token's tenant. */
  readonly tenant?: string;
}

export interface EnvoyIdentityHeaders {
  readonly subject: string;
  readonly tenant: string;
  readonly client: string;
  readonly scopes: string;
  readonly decisionId: string;
}

export interface EnvoyCompatConfig {
  /** Evaluate the OPA-Envoy-style policy instead of base AND tenant. Default false. */
  readonly enabled: boolean;
  /** Folder with the compatibility policy (Rego + data). Default `<policies.dir>/envoy`. */
  readonly dir: string;
  /** The rule whose value decides, as a path: `envoy/authz/allow` is `data.envoy.authz.allow`. */
  readonly entrypoint: string;
  /**
   * Parse the request body into `parsed_body` (JSON, form-urlencoded, multipart/form-data); false
   * leaves `parsed_body` and `truncated_body` out, as OPA-Envoy's `skip_request_body_parse`. Default true.
   */
  readonly parseBody: boolean;
}

export interface EnvoyConfig {
  /** Path prefix of HTTP ext_authz on the HTTP listener. Default `/envoy/authz`. */
  readonly httpPrefix: string;
  /** Largest request (body) the HTTP ext_authz route accepts, bytes; larger gets 413. Default 1 MiB. */
  readonly httpBodyLimitBytes: number;
  /**
   * Largest gRPC CheckRequest decided, bytes; a larger one is denied 413 (`request_invalid`), up to
   * four times this, beyond which the transport refuses it. Default 1 MiB.
   */
  readonly grpcMaxRequestBytes: number;
  /**
   * Headers searched, in order, for `Bearer <token>` or `DPoP <token>` (the scheme a DPoP-bound
   * token needs, with its proof in the `dpop` header). Default `[authorization]`.
   */
  readonly tokenHeaders: readonly string[];
  /**
   * Headers naming the method a server behind the proxy runs instead of the request line's (e.g.
   * `x-http-method-override`): a request carrying one is decided for the method it names, and
   * refused (`request_invalid`) when it names several or no valid method. Default the three usual.
   */
  readonly methodOverrideHeaders: readonly string[];
  /** Request header naming the tenant the caller acts in (checked against the token). Default none. */
  readonly tenantHeader?: string;
  /** Headers mandate sets for the upstream on allow; incoming copies are always removed. */
  readonly identityHeaders: EnvoyIdentityHeaders;
  readonly routes: readonly EnvoyRouteConfig[];
  /**
   * What an unmapped method + path gets: `deny` (403 `route_unmapped`) or `derive` (policy decides
   * action `http.<method>` on resource `{type: http_path, id: <path>}`). Default `deny`, or `derive`
   * when compat mode is on.
   */
  readonly unmapped: 'deny' | 'derive';
  /** Shadow mode per listener and per tenant: decide and audit, then always allow. */
  readonly dryRun: {
    readonly grpc: boolean;
    readonly http: boolean;
    readonly tenants: readonly string[];
  };
  /**
   * An internal failure (reason class `unavailable`): `deny` answers a 503 denial carrying the reason;
   * `error_response` answers an error Envoy counts as an authorization-service failure (gRPC
   * UNAVAILABLE; HTTP 503), so Envoy's `failure_mode_allow` and `status_on_error` apply. Default `deny`.
   */
  readonly onError: 'deny' | 'error_response';
  readonly compat: EnvoyCompatConfig;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'];
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
/** The method-override headers frameworks commonly honour. */
const DEFAULT_METHOD_OVERRIDE_HEADERS = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
];

function headerName(s: Section, name: string, fallback: string): string {
  const value = s.string(name, fallback).toLowerCase();
  if (!HEADER_NAME.test(value)) throw new ConfigError(s.key(name), 'must be an HTTP header name');
  return value;
}

/**
 * Checks a path template and returns its capture names. Segments are literals, `{name}` (one
 * segment) or, last only, `{name*}` (the rest of the path, possibly empty).
 */
function templateCaptures(key: string, path: string): Set<string> {
  if (!path.startsWith('/')) throw new ConfigError(key, 'must start with /');
  const captures = new Set<string>();
  const segments = path.slice(1).split('/');
  segments.forEach((segment, i) => {
    const m = /^\{([A-Za-z_][A-Za-z0-9_]*)(\*?)\}$/.exec(segment);
    if (m) {
      if (m[2] === '*' && i !== segments.length - 1) {
        throw new ConfigError(key, `{${m[1]}*} may only be the last segment`);
      }
      if (captures.has(m[1] as string) || m[1] === 'method') {
        throw new ConfigError(key, `capture {${m[1]}} is used twice or is reserved`);
      }
      captures.add(m[1] as string);
    } else if (/[{}*]/.test(segment)) {
      throw new ConfigError(
        key,
        `segment ${JSON.stringify(segment)} must be a literal, {name} or a final {name*}`,
      );
    }
  });
  return captures;
}

function readRoute(s: Section): EnvoyRouteConfig {
  s.only(['method', 'path', 'action', 'resource', 'tenant']);
  const raw = s.value['method'];
  const list = Array.isArray(raw) ? s.stringList('method') : [s.string('method', '*')];
  const methods = list.map((m, i) => {
    const upper = m.toUpperCase();
    if (upper !== '*' && !METHODS.includes(upper)) {
      throw new ConfigError(
        Array.isArray(raw) ? `${s.key('method')}[${i}]` : s.key('method'),
        `unknown HTTP method ${JSON.stringify(m)} (expected one of: ${METHODS.join(', ')}, *)`,
      );
    }
    return upper;
  });
  const path = s.string('path');
  const captures = templateCaptures(s.key('path'), path);
  const checkUses = (key: string, text: string) => {
    for (const m of text.matchAll(/\{([^}]*)\}/g)) {
      if (m[1] !== 'method' && !captures.has(m[1] as string)) {
        throw new ConfigError(key, `{${m[1]}} is not captured by the path template ${path}`);
      }
    }
  };
  let resource: EnvoyRouteConfig['resource'];
  if (s.has('resource')) {
    const r = s.section('resource').only(['type', 'id']);
    const id = r.optionalString('id');
    resource = { type: r.string('type'), ...(id !== undefined ? { id } : {}) };
  }
  const tenant = s.optionalString('tenant');
  checkUses(s.key('action'), s.string('action'));
  if (resource) {
    checkUses(s.key('resource.type'), resource.type);
    if (resource.id !== undefined) checkUses(s.key('resource.id'), resource.id);
  }
  if (tenant !== undefined) checkUses(s.key('tenant'), tenant);
  return {
    methods,
    path,
    action: s.string('action'),
    ...(resource ? { resource } : {}),
    ...(tenant !== undefined ? { tenant } : {}),
  };
}

/** Reads and validates the `envoy:` section. Route templates are compiled (and checked) by the route table. */
export function readEnvoySection(
  s: Section,
  at: (p: string) => string,
  policiesDir: string,
): EnvoyConfig {
  s.only([
    'http_prefix',
    'http_body_limit_bytes',
    'grpc_max_request_bytes',
    'token_headers',
    'method_override_headers',
    'tenant_header',
    'identity_headers',
    'routes',
    'unmapped',
    'dry_run',
    'on_error',
    'compat',
  ]);
  const prefix = s.string('http_prefix', '/envoy/authz').replace(/\/+$/, '');
  if (!prefix.startsWith('/') || prefix.length < 2 || /[?#{}*]/.test(prefix)) {
    throw new ConfigError(s.key('http_prefix'), 'must be a path such as /envoy/authz');
  }
  const tokenHeaders = s.stringList('token_headers', ['authorization']).map((h, i) => {
    const lower = h.toLowerCase();
    if (!HEADER_NAME.test(lower))
      throw new ConfigError(`${s.key('token_headers')}[${i}]`, 'must be an HTTP header name');
    return lower;
  });
  const tenantHeader = s.has('tenant_header') ? headerName(s, 'tenant_header', '') : undefined;
  const methodOverrideHeaders = s
    .stringList('method_override_headers', DEFAULT_METHOD_OVERRIDE_HEADERS)
    .map((h, i) => {
      const lower = h.toLowerCase();
      const key = `${s.key('method_override_headers')}[${i}]`;
      if (!HEADER_NAME.test(lower)) throw new ConfigError(key, 'must be an HTTP header name');
      if (tokenHeaders.includes(lower)) throw new ConfigError(key, `${h} is also a token header`);
      return lower;
    });

  const ih = s
    .section('identity_headers')
    .only(['subject', 'tenant', 'client', 'scopes', 'decision_id']);
  const identityHeaders: EnvoyIdentityHeaders = {
    subject: headerName(ih, 'subject', 'x-mandate-subject'),
    tenant: headerName(ih, 'tenant', 'x-mandate-tenant'),
    client: headerName(ih, 'client', 'x-mandate-client'),
    scopes: headerName(ih, 'scopes', 'x-mandate-scopes'),
    decisionId: headerName(ih, 'decision_id', 'x-mandate-decision-id'),
  };
  const names = Object.values(identityHeaders);
  if (new Set(names).size !== names.length) {
    throw new ConfigError(ih.path, 'identity header names must differ from each other');
  }
  for (const h of tokenHeaders) {
    if (names.includes(h)) {
      throw new ConfigError(s.key('token_headers'), `${h} is also an identity header`);
    }
  }
  methodOverrideHeaders.forEach((h, i) => {
    if (names.includes(h)) {
      throw new ConfigError(
        `${s.key('method_override_headers')}[${i}]`,
        `${h} is also an identity header`,
      );
    }
  });

  const compatSection = s.section('compat').only(['enabled', 'dir', 'entrypoint', 'parse_body']);
  const entrypoint = compatSection.string('entrypoint', 'envoy/authz/allow');
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)+$/.test(entrypoint)) {
    throw new ConfigError(
      compatSection.key('entrypoint'),
      'must be a rule path such as envoy/authz/allow',
    );
  }
  const compat: EnvoyCompatConfig = {
    enabled: compatSection.boolean('enabled', false),
    dir: compatSection.has('dir')
      ? at(compatSection.string('dir'))
      : `${policiesDir.replace(/\/+$/, '')}/envoy`,
    entrypoint,
    parseBody: compatSection.boolean('parse_body', true),
  };

  const dry = s.section('dry_run').only(['grpc', 'http', 'tenants']);
  return {
    httpPrefix: prefix,
    httpBodyLimitBytes: s.integer('http_body_limit_bytes', 1_048_576, 1024, 16_777_216),
    grpcMaxRequestBytes: s.integer('grpc_max_request_bytes', 1_048_576, 1024, 16_777_216),
    tokenHeaders,
    methodOverrideHeaders,
    ...(tenantHeader !== undefined ? { tenantHeader } : {}),
    identityHeaders,
    routes: s.list('routes').map(readRoute),
    unmapped: s.oneOf('unmapped', ['deny', 'derive'] as const, compat.enabled ? 'derive' : 'deny'),
    dryRun: {
      grpc: dry.boolean('grpc', false),
      http: dry.boolean('http', false),
      tenants: dry.stringList('tenants', []),
    },
    onError: s.oneOf('on_error', ['deny', 'error_response'] as const, 'deny'),
    compat,
  };
}
