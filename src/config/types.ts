// The validated, frozen configuration: one typed section per component. YAML uses snake_case; this uses camelCase.

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
      /** Minimum gap between fetches triggered by an unknown `kid`, seconds. Default 30. */
      readonly cooldownSeconds: number;
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

export interface PolicyConfig {
  /** Directory with `base/` and `tenants/<tenant>/`. Default ./policies. */
  readonly dir: string;
  /** Path of the `opa` binary used to compile Rego to Wasm. Default: .tools/opa, else `opa` on PATH. */
  readonly opaPath?: string;
}

export type AuditSinkConfig =
  | { readonly driver: 'stdout' }
  | { readonly driver: 'file'; readonly path: string }
  | { readonly driver: 'none' };

export interface AuditConfig {
  readonly sink: AuditSinkConfig;
}

export interface HttpConfig {
  /** Maximum request body for /v1/check, bytes. Larger bodies get 413. Default 65536. */
  readonly bodyLimitBytes: number;
}

export interface AdminConfig {
  /**
   * Static bearer tokens accepted on the admin listener (each ≥ 32 characters), compared in
   * constant time. Empty: every admin call is refused (in dev mode a token is generated instead).
   */
  readonly tokens: readonly string[];
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
  readonly admin: AdminConfig;
  readonly dev: DevConfig;
  /** pino level for operational logs. Default info. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}
