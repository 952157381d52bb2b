// Resolves the validated `envoy:` section: route templates and their captures, header names that must not collide, compat defaults.
import type { Static } from '@sinclair/typebox';
import { ConfigError } from './errors.js';
import type { envoySchema } from './schema/envoy.js';

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

/**
 * Whether a route-table path may hold `;` in a segment: `reject` (never matches: servers that strip
 * path parameters would read another path) or `allow` (an ordinary character).
 */
export type PathParameters = 'reject' | 'allow';

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
   * `reject`: a path with `;` in a segment (raw or `%3B`) maps to no route, since servers that
   * strip `;parameters` (servlet containers, Spring) read `/x/admin;y` as `/x/admin`; `allow`: `;`
   * is an ordinary character, for upstreams that keep it. Default `reject`.
   */
  readonly pathParameters: PathParameters;
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

type EnvoyFile = Static<typeof envoySchema>;
type RouteFile = EnvoyFile['routes'][number];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'];

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

/**
 * Resolves one route of a route list (`envoy.routes[i]`, `proxy.routes[i]`, named by `key`):
 * methods upper-cased and known, the template's captures, every `{name}` used is captured.
 */
export function resolveRoute(key: string, route: RouteFile): EnvoyRouteConfig {
  const list = Array.isArray(route.method) ? route.method : [route.method];
  const methods = list.map((m, j) => {
    const upper = m.toUpperCase();
    if (upper !== '*' && !METHODS.includes(upper)) {
      throw new ConfigError(
        Array.isArray(route.method) ? `${key}.method[${j}]` : `${key}.method`,
        `unknown HTTP method ${JSON.stringify(m)} (expected one of: ${METHODS.join(', ')}, *)`,
      );
    }
    return upper;
  });
  const captures = templateCaptures(`${key}.path`, route.path);
  const checkUses = (where: string, text: string) => {
    for (const m of text.matchAll(/\{([^}]*)\}/g)) {
      if (m[1] !== 'method' && !captures.has(m[1] as string)) {
        throw new ConfigError(
          where,
          `{${m[1]}} is not captured by the path template ${route.path}`,
        );
      }
    }
  };
  checkUses(`${key}.action`, route.action);
  if (route.resource) {
    checkUses(`${key}.resource.type`, route.resource.type);
    if (route.resource.id !== undefined) checkUses(`${key}.resource.id`, route.resource.id);
  }
  if (route.tenant !== undefined) checkUses(`${key}.tenant`, route.tenant);
  return {
    methods,
    path: route.path,
    action: route.action,
    ...(route.resource ? { resource: route.resource } : {}),
    ...(route.tenant !== undefined ? { tenant: route.tenant } : {}),
  };
}

/**
 * What a path segment is to the most lenient upstream: its part before any `;` (servers that strip
 * path parameters), case-folded (case-insensitive servers such as IIS). Folded through upper then
 * lower case so that `ſ`, `ı` or the Kelvin sign meet `s`, `i` and `k`, as an upper-casing
 * comparison (.NET's `OrdinalIgnoreCase`) has them meet; folding too much only refuses more. The
 * route table and the checks of route lists below share it, so both see the same collisions.
 */
export function segmentKey(segment: string): string {
  const semicolon = segment.indexOf(';');
  const bare = semicolon === -1 ? segment : segment.slice(0, semicolon);
  return bare.toUpperCase().toLowerCase();
}

/**
 * Resolves a route list (`envoy.routes`, `proxy.routes`, named by `key`), refusing templates that
 * could never match or that an upstream could not tell apart: a literal holding `;` while path
 * parameters are rejected, and two literals after the same segments that differ only in case or
 * `;parameters` (`/x/Admin` beside `/x/admin`), which a case-insensitive server reads as one.
 */
export function resolveRoutes(
  key: string,
  routes: readonly RouteFile[],
  pathParameters: PathParameters,
): EnvoyRouteConfig[] {
  const seen = new Map<string, { readonly literal: string; readonly at: string }>();
  return routes.map((raw, i) => {
    const at = `${key}[${i}].path`;
    const route = resolveRoute(`${key}[${i}]`, raw);
    const segments = route.path.slice(1).split('/');
    // Captures share one trie node whatever their name, so they share one prefix here too.
    let prefix = '';
    for (const segment of segments) {
      if (segment.startsWith('{')) {
        prefix += '/{}';
        continue;
      }
      if (pathParameters === 'reject' && segment.includes(';')) {
        throw new ConfigError(
          at,
          `segment ${JSON.stringify(segment)} holds ";", which path_parameters: reject never matches`,
        );
      }
      const slot = `${prefix}/${segmentKey(segment)}`;
      const other = seen.get(slot);
      if (other !== undefined && other.literal !== segment) {
        throw new ConfigError(
          at,
          `segment ${JSON.stringify(segment)} differs from ${JSON.stringify(other.literal)} (${other.at}) only in case or ;parameters`,
        );
      }
      if (other === undefined) seen.set(slot, { literal: segment, at });
      prefix += `/${segment}`;
    }
    return route;
  });
}

/** Resolves `envoy:`. Route templates are compiled (and checked again) by the route table. */
export function resolveEnvoy(
  raw: EnvoyFile,
  at: (p: string) => string,
  policiesDir: string,
): EnvoyConfig {
  const lower = (names: readonly string[]) => names.map((h) => h.toLowerCase());
  const tokenHeaders = lower(raw.token_headers);
  const methodOverrideHeaders = lower(raw.method_override_headers);
  methodOverrideHeaders.forEach((h, i) => {
    if (tokenHeaders.includes(h)) {
      throw new ConfigError(
        `envoy.method_override_headers[${i}]`,
        `${raw.method_override_headers[i]} is also a token header`,
      );
    }
  });
  const ih = raw.identity_headers;
  const identityHeaders: EnvoyIdentityHeaders = {
    subject: ih.subject.toLowerCase(),
    tenant: ih.tenant.toLowerCase(),
    client: ih.client.toLowerCase(),
    scopes: ih.scopes.toLowerCase(),
    decisionId: ih.decision_id.toLowerCase(),
  };
  const names = Object.values(identityHeaders);
  if (new Set(names).size !== names.length) {
    throw new ConfigError(
      'envoy.identity_headers',
      'identity header names must differ from each other',
    );
  }
  for (const h of tokenHeaders) {
    if (names.includes(h)) {
      throw new ConfigError('envoy.token_headers', `${h} is also an identity header`);
    }
  }
  methodOverrideHeaders.forEach((h, i) => {
    if (names.includes(h)) {
      throw new ConfigError(
        `envoy.method_override_headers[${i}]`,
        `${h} is also an identity header`,
      );
    }
  });
  const compat: EnvoyCompatConfig = {
    enabled: raw.compat.enabled,
    dir:
      raw.compat.dir !== undefined
        ? at(raw.compat.dir)
        : `${policiesDir.replace(/\/+$/, '')}/envoy`,
    entrypoint: raw.compat.entrypoint,
    parseBody: raw.compat.parse_body,
  };
  return {
    httpPrefix: raw.http_prefix.replace(/\/+$/, ''),
    httpBodyLimitBytes: raw.http_body_limit_bytes,
    grpcMaxRequestBytes: raw.grpc_max_request_bytes,
    tokenHeaders,
    methodOverrideHeaders,
    ...(raw.tenant_header !== undefined ? { tenantHeader: raw.tenant_header.toLowerCase() } : {}),
    identityHeaders,
    routes: resolveRoutes('envoy.routes', raw.routes, raw.path_parameters),
    pathParameters: raw.path_parameters,
    unmapped: raw.unmapped ?? (compat.enabled ? 'derive' : 'deny'),
    dryRun: { grpc: raw.dry_run.grpc, http: raw.dry_run.http, tenants: raw.dry_run.tenants },
    onError: raw.on_error,
    compat,
  };
}
