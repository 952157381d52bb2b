// Resolves the validated `exchange:` section: the endpoint, client authentication and the rules between their keys.
import type { Static } from '@sinclair/typebox';
import { ConfigError } from './errors.js';
import { DEFAULT_ASSERTION_ALG, type exchangeSchema } from './schema/exchange.js';

export { DEFAULT_EGRESS_HTTP_PREFIX } from './schema/exchange.js';

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

type ExchangeFile = Static<typeof exchangeSchema>;

/** Resolves `exchange:` (validation left it absent when exchange is off). */
export function resolveExchange(raw: ExchangeFile, at: (p: string) => string): ExchangeConfig {
  if ((raw.issuer === undefined) === (raw.token_endpoint === undefined)) {
    throw new ConfigError(
      'exchange.token_endpoint',
      'exactly one of token_endpoint or issuer is required',
    );
  }
  const endpoint: ExchangeEndpoint =
    raw.token_endpoint !== undefined
      ? { kind: 'token_endpoint', url: raw.token_endpoint }
      : { kind: 'discovery', issuer: raw.issuer as string };
  return {
    endpoint,
    clientId: raw.client_id,
    clientAuth: resolveClientAuth(raw, at),
    actor: {
      mode: raw.actor.mode,
      ...(raw.actor.scope !== undefined ? { scope: raw.actor.scope } : {}),
      ...(raw.actor.resource !== undefined ? { resource: raw.actor.resource } : {}),
      name: raw.actor.name ?? raw.client_id,
    },
    timeoutMs: raw.timeout_ms,
    retries: raw.retries,
    retryBackoffMs: raw.retry_backoff_ms,
    cacheMaxEntries: raw.cache_max_entries,
    cacheSkewSeconds: raw.cache_skew_seconds,
    egress: Object.fromEntries(
      Object.entries(raw.egress).map(([host, route]) => [
        host,
        {
          audience: route.audience,
          scopes: route.scope === undefined ? [] : route.scope.split(' ').filter((x) => x !== ''),
          ...(route.resource !== undefined ? { resource: route.resource } : {}),
        },
      ]),
    ),
    egressHttpPrefix: raw.egress_http_prefix,
  };
}

/** A secret for the client_secret methods, a key file for private_key_jwt, never both. */
function resolveClientAuth(raw: ExchangeFile, at: (p: string) => string): ExchangeClientAuth {
  if (raw.client_auth === 'private_key_jwt') {
    if (raw.client_secret !== undefined) {
      throw new ConfigError(
        'exchange.client_secret',
        'is not used with client_auth: private_key_jwt',
      );
    }
    if (raw.private_key_file === undefined) {
      throw new ConfigError('exchange.private_key_file', 'is required');
    }
    return {
      method: 'private_key_jwt',
      keyPath: at(raw.private_key_file),
      alg: raw.assertion_alg ?? DEFAULT_ASSERTION_ALG,
      ...(raw.assertion_kid !== undefined ? { kid: raw.assertion_kid } : {}),
    };
  }
  for (const k of ['private_key_file', 'assertion_alg', 'assertion_kid'] as const) {
    if (raw[k] !== undefined) {
      throw new ConfigError(`exchange.${k}`, 'is only used with client_auth: private_key_jwt');
    }
  }
  if (raw.client_secret === undefined) {
    throw new ConfigError('exchange.client_secret', 'is required');
  }
  return { method: raw.client_auth, secret: raw.client_secret };
}
