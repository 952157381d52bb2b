// The `exchange:` config section: how mandate reaches the authorization server for RFC 8693 token exchange.
import { ConfigError } from './errors.js';
import type { Section } from './reader.js';

/** How mandate authenticates to the token endpoint (RFC 6749 §2.3, RFC 7523). */
export type ExchangeClientAuth =
  | { readonly method: 'client_secret_basic'; readonly secret: string }
  | { readonly method: 'client_secret_post'; readonly secret: string }
  | {
      readonly method: 'private_key_jwt';
      /** A private JWK (JSON) or a PKCS#8 PEM file. */
      readonly keyPath: string;
      /** JWS algorithm of the client assertion. Default ES256. */
      readonly alg: string;
      /** `kid` header of the assertion; default the JWK's own `kid`, if any. */
      readonly kid?: string;
    };

/** Where the token endpoint comes from: configured, or OAuth AS metadata discovery (RFC 8414). */
export type ExchangeEndpoint =
  | { readonly kind: 'token_endpoint'; readonly url: string }
  | { readonly kind: 'discovery'; readonly issuer: string };

/** Where Envoy HTTP ext_authz for egress is served unless `egress_http_prefix` says otherwise. */
export const DEFAULT_EGRESS_HTTP_PREFIX = '/envoy/egress';

export interface ExchangeActorConfig {
  /**
   * `client_credentials`: mandate gets its own access token with the client credentials grant
   * (cached until shortly before it expires) and sends it as `actor_token`. `none`: no actor
   * token; the authorization server takes the authenticated client as the actor. Default
   * client_credentials.
   */
  readonly mode: 'client_credentials' | 'none';
  /** Scope asked for in the client credentials grant; default none. */
  readonly scope?: string;
  /** RFC 8707 `resource` asked for in the client credentials grant; default none. */
  readonly resource?: string;
  /**
   * mandate's identity as the actor, as policies see it in `input.context.actor` and as a subject
   * token's `may_act.sub` must name it. Default: the client id.
   */
  readonly name: string;
}

/** What an outbound request to one host is exchanged for (Envoy egress mode). */
export interface EgressRoute {
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly resource?: string;
}

export interface ExchangeConfig {
  readonly endpoint: ExchangeEndpoint;
  readonly clientId: string;
  readonly clientAuth: ExchangeClientAuth;
  readonly actor: ExchangeActorConfig;
  /** Deadline for one call to the authorization server (discovery, grant), milliseconds. Default 2000. */
  readonly timeoutMs: number;
  /** Extra attempts after a network error, timeout or 5xx (never after a 4xx). Default 1. */
  readonly retries: number;
  /** Pause before a retry, milliseconds (doubled per attempt). Default 100. */
  readonly retryBackoffMs: number;
  /** Exchanged tokens kept (entries). 0 disables the cache. Default 10000. */
  readonly cacheMaxEntries: number;
  /**
   * A cached token is served only while more than this many seconds of its life remain, so a caller
   * never gets a token that expires in flight. Tokens shorter-lived than this are not cached. Default 30.
   */
  readonly cacheSkewSeconds: number;
  /** Envoy egress: destination host (`host` or `host:port`, lower-case) → what to exchange for. */
  readonly egress: Readonly<Record<string, EgressRoute>>;
  /** Path prefix of Envoy's HTTP ext_authz for egress (gRPC uses a context extension). Default /envoy/egress. */
  readonly egressHttpPrefix: string;
}

const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
] as const;
const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;

function httpUrl(s: Section, key: string): string {
  const value = s.string(key);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(s.key(key), 'must be an http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(s.key(key), 'must be an http(s) URL');
  }
  return value;
}

/** Reads `exchange:`; absent means token exchange is off (and /v1/exchange answers 501). */
export function readExchange(s: Section, at: (p: string) => string): ExchangeConfig | undefined {
  if (Object.keys(s.value).length === 0) return undefined;
  s.only([
    'issuer',
    'token_endpoint',
    'client_id',
    'client_auth',
    'client_secret',
    'private_key_file',
    'assertion_alg',
    'assertion_kid',
    'actor',
    'timeout_ms',
    'retries',
    'retry_backoff_ms',
    'cache_max_entries',
    'cache_skew_seconds',
    'egress',
    'egress_http_prefix',
  ]);
  const given = ['issuer', 'token_endpoint'].filter((k) => s.has(k));
  if (given.length !== 1) {
    throw new ConfigError(
      s.key('token_endpoint'),
      'exactly one of token_endpoint or issuer is required',
    );
  }
  const endpoint: ExchangeEndpoint = s.has('token_endpoint')
    ? { kind: 'token_endpoint', url: httpUrl(s, 'token_endpoint') }
    : { kind: 'discovery', issuer: httpUrl(s, 'issuer') };
  const clientId = s.string('client_id');

  const method = s.oneOf('client_auth', CLIENT_AUTH_METHODS, 'client_secret_basic');
  let clientAuth: ExchangeClientAuth;
  if (method === 'private_key_jwt') {
    if (s.has('client_secret')) {
      throw new ConfigError(
        s.key('client_secret'),
        'is not used with client_auth: private_key_jwt',
      );
    }
    const kid = s.optionalString('assertion_kid');
    clientAuth = {
      method,
      keyPath: at(s.string('private_key_file')),
      alg: s.oneOf('assertion_alg', ASSERTION_ALGS, 'ES256'),
      ...(kid !== undefined ? { kid } : {}),
    };
  } else {
    for (const k of ['private_key_file', 'assertion_alg', 'assertion_kid']) {
      if (s.has(k))
        throw new ConfigError(s.key(k), `is only used with client_auth: private_key_jwt`);
    }
    clientAuth = { method, secret: s.string('client_secret') };
  }

  const actorSection = s.section('actor').only(['mode', 'scope', 'resource', 'name']);
  const actorScope = actorSection.optionalString('scope');
  const actorResource = actorSection.optionalString('resource');
  const actor: ExchangeActorConfig = {
    mode: actorSection.oneOf('mode', ['client_credentials', 'none'] as const, 'client_credentials'),
    ...(actorScope !== undefined ? { scope: actorScope } : {}),
    ...(actorResource !== undefined ? { resource: actorResource } : {}),
    name: actorSection.string('name', clientId),
  };

  return {
    endpoint,
    clientId,
    clientAuth,
    actor,
    timeoutMs: s.integer('timeout_ms', 2000, 50, 60_000),
    retries: s.integer('retries', 1, 0, 5),
    retryBackoffMs: s.integer('retry_backoff_ms', 100, 0, 10_000),
    cacheMaxEntries: s.integer('cache_max_entries', 10_000, 0, 10_000_000),
    cacheSkewSeconds: s.integer('cache_skew_seconds', 30, 0, 3600),
    egress: readEgress(s.section('egress')),
    egressHttpPrefix: readPrefix(s, 'egress_http_prefix', DEFAULT_EGRESS_HTTP_PREFIX),
  };
}

/** `egress: { "billing.internal": { audience: billing-api, scope: "billing.view" } }`. */
function readEgress(s: Section): Readonly<Record<string, EgressRoute>> {
  const routes: Record<string, EgressRoute> = {};
  for (const host of Object.keys(s.value)) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(host)) {
      throw new ConfigError(s.key(host), 'must be a lower-case host name, optionally with :port');
    }
    const route = s.section(host).only(['audience', 'scope', 'resource']);
    const resource = route.optionalString('resource');
    const scope = route.optionalString('scope');
    routes[host] = {
      audience: route.string('audience'),
      scopes: scope === undefined ? [] : scope.split(' ').filter((x) => x.length > 0),
      ...(resource !== undefined ? { resource } : {}),
    };
  }
  return routes;
}

function readPrefix(s: Section, key: string, fallback: string): string {
  const prefix = s.string(key, fallback);
  if (!/^\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-]$/.test(prefix)) {
    throw new ConfigError(s.key(key), 'must be a path such as /envoy/egress (no trailing slash)');
  }
  return prefix;
}
