// The validated, frozen configuration: one typed section per component. YAML uses snake_case; this uses camelCase.
// The file's own types come from the schema (`ConfigFile`, `Static<typeof configFileSchema>` in schema/root.ts);
// these stay hand-written because the resolved form differs: camelCase, absolute paths, tagged key sources and
// sinks, defaults that depend on other keys.
import type { EnvoyConfig } from './envoy.js';
import type { ExchangeConfig } from './exchange.js';
import type { AdminJwtConfig } from './admin-jwt.js';
import type { RevocationConfig } from './revocation.js';
import type { PolicyConfig } from './policies.js';
import type { McpConfig } from './mcp.js';
import type { ProxyConfig } from './proxy.js';

/** A `host:port` listen address. Port 0 picks a free port (tests). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface ListenConfig {
  /** HTTP Check API, /health, /ready, /metrics. Default 127.0.0.1:8181. */
  readonly http: ListenAddress;
  /** gRPC Check API, health and reflection. Default 127.0.0.1:9191. */
  readonly grpc: ListenAddress;
  /** Admin API (later: revocations, policy status). Default 127.0.0.1:8182. */
  readonly admin: ListenAddress;
}

/** JWS algorithms mandate will ever accept. `none` is not representable. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export const SYMMETRIC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export type SymmetricAlgorithm = (typeof SYMMETRIC_ALGORITHMS)[number];
export type Algorithm = AsymmetricAlgorithm | SymmetricAlgorithm;

/** Where an issuer's verification keys come from. Exactly one per issuer. */
export type KeySource =
  | {
      readonly kind: 'jwks_uri';
      readonly uri: string;
      /** Background refresh period, seconds. Default 300. */
      readonly refreshSeconds: number;
      /**
       * Fetches an unknown `kid` may trigger per minute, on average (a token bucket that also
       * allows a burst of this many). 0: only start-up and the background refresh fetch. Default 5.
       */
      readonly refetchPerMinute: number;
      /** Per-fetch timeout, milliseconds. Default 5000. */
      readonly timeoutMs: number;
    }
  | { readonly kind: 'jwks_file'; readonly path: string }
  /** Shared secret for HS* algorithms; only allowed when explicitly configured. */
  | { readonly kind: 'secret'; readonly secret: string };

export interface IssuerConfig {
  /** Exact `iss` value. Tokens are matched to an issuer by this before any key is used. */
  readonly issuer: string;
  readonly keys: KeySource;
  /** `aud` must contain at least one of these. Required, non-empty. */
  readonly audiences: readonly string[];
  /** Allow-list of JWS `alg` values. Never `none`; HS* only with a `secret` key source. */
  readonly algorithms: readonly Algorithm[];
  /** Accepted JOSE `typ` values (RFC 9068 uses `at+jwt`); undefined accepts any. Compared case-insensitively, `application/` prefix ignored. */
  readonly tokenTypes?: readonly string[];
  /** Leeway for exp/nbf/iat, seconds. Default 30. */
  readonly clockToleranceSeconds: number;
  /** Claims that must be present. Default RFC 9068's: iss, exp, aud, sub, client_id, iat, jti. */
  readonly requiredClaims: readonly string[];
  /**
   * Longest lifetime (`exp - iat`) of this issuer's tokens, seconds; revocation entries live this
   * long past their cut-off. Default `revocation.max_token_lifetime_seconds`.
   */
  readonly maxTokenLifetimeSeconds?: number;
  /**
   * A token with a `cnf` (key-binding) claim. `deny` (default): a DPoP binding is checked against
   * the request's DPoP proof, any other is refused (`token_binding_unverified`). `accept`: taken
   * as a bearer token, with no proof of possession checked.
   */
  readonly senderConstrained?: 'deny' | 'accept';
}

export interface TokenConfig {
  /** Tokens longer than this many bytes are refused with token_malformed before parsing. Default 16384. */
  readonly maxTokenBytes: number;
  /** Verified-token cache capacity (entries). 0 disables caching. Default 10000. */
  readonly cacheMaxEntries: number;
}

export interface TenancyConfig {
  /** Claim holding the tenant id. Default `tenant`. */
  readonly claim: string;
}

/** The `policies:` section: directory, watch mode, bundles, keys (see src/config/policies.ts). */
export type { PolicyConfig };

/** How a sink renders a record: mandate's own schema, or an OPA decision-log event. */
export type AuditFormat = 'mandate' | 'opa';

/** When an `http` sink's spool reaches `spool.maxBytes`: drop whole oldest segments (counted), or deny new requests. */
export type AuditOnFull = 'drop_oldest' | 'fail_closed';

/** On-disk spool of an `http` sink: append-only segment files in `dir`. */
export interface AuditSpoolConfig {
  /** Folder of the segment files and the delivery cursor. Default `<dev.state_dir>/audit-spool/<name>`. */
  readonly dir: string;
  /** Bound on undelivered bytes on disk. Default 1 GiB. */
  readonly maxBytes: number;
  /** A segment is sealed (and becomes deletable once delivered) at this size. Default 8 MiB. */
  readonly segmentMaxBytes: number;
  /**
   * `always`: fdatasync after every batch written (group commit, once per event-loop turn);
   * `interval`: fdatasync the open segment every `fsyncIntervalMs`; `never`: leave it to the OS.
   * A process crash loses nothing once a batch is written; this only bounds loss on power failure.
   */
  readonly fsync: 'always' | 'interval' | 'never';
  /** Period for `fsync: interval`, milliseconds. Default 1000. */
  readonly fsyncIntervalMs: number;
}

export type AuditSinkConfig =
  | { readonly driver: 'stdout'; readonly name: string; readonly format: AuditFormat }
  | {
      readonly driver: 'file';
      readonly name: string;
      readonly format: AuditFormat;
      readonly path: string;
      /** The file is rotated (`path.1`, `path.2`, ...) once it reaches this size. Default 100 MiB. */
      readonly maxBytes: number;
      /** Rotated files kept besides the current one. Default 5. */
      readonly maxFiles: number;
    }
  | {
      readonly driver: 'http';
      readonly name: string;
      /** Collector endpoint receiving OPA decision-log uploads (gzip JSON arrays). */
      readonly url: string;
      /** Extra request headers (e.g. the collector's credentials); never logged. */
      readonly headers: Readonly<Record<string, string>>;
      /** Per-upload timeout, milliseconds. Default 10000. */
      readonly timeoutMs: number;
      /** Upper bound of one upload before compression, bytes. Default 1 MiB. */
      readonly batchMaxBytes: number;
      /** The oldest undelivered record waits at most this long for a batch to fill, milliseconds. Default 1000. */
      readonly batchMaxDelayMs: number;
      /** First retry delay after a failed upload, milliseconds; doubles up to `backoffMaxMs`. Default 250. */
      readonly backoffMinMs: number;
      /** Longest retry delay, milliseconds. Default 30000. */
      readonly backoffMaxMs: number;
      readonly spool: AuditSpoolConfig;
      /** Default `fail_closed` (see the README for why). */
      readonly onFull: AuditOnFull;
    };

/** A masking rule over the record, by JSON pointer (RFC 6901; `*` matches every key or index). */
export type AuditMaskRule =
  | { readonly op: 'erase'; readonly path: string; readonly segments: readonly string[] }
  | {
      readonly op: 'mask';
      readonly path: string;
      readonly segments: readonly string[];
      /** Replacement value. Default `"[masked]"`. */
      readonly value: unknown;
    };

export interface AuditConfig {
  /** Every sink gets every record. Empty: audit off (`sink: none`). Default one `stdout` sink. */
  readonly sinks: readonly AuditSinkConfig[];
  /** Applied in order to every record before it reaches any sink, the ring or the query API. */
  readonly mask: readonly AuditMaskRule[];
  /** Recent records kept in memory for `GET /v1/decisions`. 0 disables the ring. Default 10000. */
  readonly ringSize: number;
  /** OPA `labels`: `id` (default: random per start) and `service` (default `mandate`) plus any extra. */
  readonly labels: Readonly<Record<string, string>>;
  /** Records waiting to be serialised beyond which new ones are dropped and counted. Default 100000. */
  readonly maxQueue: number;
  /** On shutdown, how long delivery to `http` sinks may go on before the rest is left in the spool, ms. Default 3000. */
  readonly shutdownFlushMs: number;
  /**
   * `best_effort` (default): an answer leaves at once, its record is written within moments (a
   * SIGKILL may lose the last milliseconds). `answer_after_write`: an answer leaves only once its
   * record is written and fsynced by every sink (concurrent decisions share one fsync).
   */
  readonly durability?: AuditDurability;
}

export const AUDIT_DURABILITY = ['best_effort', 'answer_after_write'] as const;
export type AuditDurability = (typeof AUDIT_DURABILITY)[number];

export interface HttpConfig {
  /** Maximum request body for /v1/check, bytes. Larger bodies get 413. Default 65536. */
  readonly bodyLimitBytes: number;
}

/** Bounds every transport applies to what a request may hold. */
export interface LimitsConfig {
  /**
   * Deepest nesting of objects and arrays accepted in `resource.attributes`, `context` and parsed
   * Envoy bodies; deeper requests are refused naming the field. Default 64.
   */
  readonly maxNestingDepth: number;
}

export interface AdminConfig {
  /**
   * Static bearer tokens accepted on the admin listener (each ≥ 32 characters), compared in
   * constant time. Empty: every admin call is refused (in dev mode a token is generated instead).
   */
  readonly tokens: readonly string[];
  /** Admin JWTs from one issuer, with a required scope and optional tenant scoping. Default: off. */
  readonly jwt?: AdminJwtConfig;
}

export interface DevConfig {
  /** True when running on built-in defaults: a local dev issuer is trusted. */
  readonly enabled: boolean;
  /** Folder for the generated dev signing key. Default ./.mandate. */
  readonly stateDir: string;
  /** Issuer name of the dev signer. */
  readonly issuer: string;
  /** Audience the dev signer puts in tokens. */
  readonly audience: string;
}

export interface MandateConfig {
  readonly listen: ListenConfig;
  readonly issuers: readonly IssuerConfig[];
  readonly token: TokenConfig;
  readonly tenancy: TenancyConfig;
  readonly policies: PolicyConfig;
  readonly audit: AuditConfig;
  readonly http: HttpConfig;
  readonly limits: LimitsConfig;
  readonly admin: AdminConfig;
  readonly dev: DevConfig;
  /** Grant-level revocation: the store and entry lifetimes (see src/config/revocation.ts). */
  readonly revocation: RevocationConfig;
  /** Envoy / Istio ext_authz adapters (see src/config/envoy.ts). */
  readonly envoy: EnvoyConfig;
  /** RFC 8693 token exchange (see src/config/exchange.ts); absent: exchange is off. */
  readonly exchange?: ExchangeConfig;
  /** Guarded MCP servers and the `mandate proxy` upstream (see src/config/mcp.ts); absent: none. */
  readonly mcp?: McpConfig;
  /** A plain HTTP upstream `mandate proxy` guards with method + path routes (see src/config/proxy.ts); absent: none. */
  readonly proxy?: ProxyConfig;
  /** pino level for operational logs. Default info. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}
