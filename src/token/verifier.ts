// Verifies OAuth access tokens (JWT, RFC 9068): strict parsing, per-issuer keys and rules, a bounded cache.
import { compactVerify, type VerifyOptions } from 'jose';
import {
  ASYMMETRIC_ALGORITHMS,
  SYMMETRIC_ALGORITHMS,
  type IssuerConfig,
  type TokenConfig,
} from '../config/types.js';
import type { ComponentState, ComponentStatus } from '../lib/lifecycle.js';
import type { FetchLike } from '../lib/fetch-deadline.js';
import { checkClaims, dpopKeyOf, type ClaimRules } from './claims.js';
import { tokenFingerprint } from './fingerprint.js';
import { decodeCompact } from './decode.js';
import { tokenFailure } from './errors.js';
import { createFileKeyResolver } from './jwks-file.js';
import { createRemoteKeyResolver } from './jwks-remote.js';
import type { KeyResolver } from './key-resolver.js';
import { NOOP_TOKEN_OBSERVER, type TokenObserver } from './observer.js';
import { createSecretKeyResolver } from './secret-key.js';
import { createTokenCache } from './token-cache.js';
import { translateJoseError } from './translate.js';
import type { TokenVerifier, VerifiedToken, VerifyResult } from './types.js';
import { internTree } from '../lib/interned.js';

export type { TokenObserver } from './observer.js';

export interface TokenVerifierOptions {
  /** Trusted issuers; a token is matched to one by its exact `iss` before any key is touched. */
  readonly issuers: readonly IssuerConfig[];
  readonly token: TokenConfig;
  /** Metrics hooks. Default: no-op. */
  readonly observer?: TokenObserver;
  /** Clock in epoch milliseconds (test seam for expiry, the cache and the JWKS cool-down). Default: Date.now. */
  readonly now?: () => number;
  /** fetch used for remote JWKS. Default: the global fetch. */
  readonly fetch?: FetchLike;
  /**
   * Accept only DPoP-bound tokens (`cnf.jkt`), whatever the issuer: for a resource that requires
   * proof of possession. Default false.
   */
  readonly requireDpopBinding?: boolean;
}

/** Everything about one issuer that verification needs, prepared once. */
interface IssuerRuntime extends ClaimRules {
  readonly issuer: string;
  /** The allow-list with HS* kept only for `secret` sources (and asymmetric only for JWKS ones). */
  readonly algorithms: ReadonlySet<string>;
  /** Normalised accepted `typ` values; undefined accepts any. */
  readonly tokenTypes: ReadonlySet<string> | undefined;
  readonly verifyOptions: VerifyOptions;
  readonly resolver: KeyResolver;
}

const KNOWN_ALGORITHMS = new Set<string>([...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS]);
const HMAC_ALGORITHMS = new Set<string>(SYMMETRIC_ALGORITHMS);

// Shared, frozen failures for the checks that happen before an issuer is known.
const MISSING = Object.freeze(tokenFailure('token_missing'));
const MALFORMED = Object.freeze(tokenFailure('token_malformed'));
const TOO_LARGE = Object.freeze(
  tokenFailure('token_malformed', 'the access token exceeds the maximum size'),
);
const NO_ISSUER = Object.freeze(tokenFailure('issuer_unknown', 'the token has no issuer (iss)'));

/**
 * Builds a verifier. Options are checked once here (a mistake is a `TypeError`); `verify` never
 * throws for bad input: every refusal is a `TokenFailure` value.
 *
 * Order of checks: presence, size, shape, cache, `iss` → configured issuer, `alg` allow-list,
 * `typ`, key by `kid`, signature, `exp`, `nbf`, `iat`, `aud`, required claims.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const observer = options.observer ?? NOOP_TOKEN_OBSERVER;
  const { maxTokenBytes, cacheMaxEntries } = options.token;
  if (!Number.isSafeInteger(maxTokenBytes) || maxTokenBytes <= 0) {
    throw new TypeError('token.maxTokenBytes must be a positive integer');
  }
  const cache = createTokenCache(cacheMaxEntries);

  const issuers = new Map<string, IssuerRuntime>();
  for (const config of options.issuers) {
    if (issuers.has(config.issuer)) {
      throw new TypeError(`issuer ${config.issuer} is configured more than once`);
    }
    issuers.set(config.issuer, prepareIssuer(config, options, now, observer));
  }

  async function verifyUncached(token: string): Promise<VerifyResult> {
    const decoded = decodeCompact(token);
    if (decoded === undefined) return MALFORMED;
    const { header, payload } = decoded;

    const iss = payload.iss;
    if (typeof iss !== 'string') return NO_ISSUER;
    const issuer = issuers.get(iss);
    if (issuer === undefined) return tokenFailure('issuer_unknown', undefined, iss);

    const { alg, kid, typ } = header;
    if (typeof alg !== 'string') return tokenFailure('token_malformed', undefined, iss);
    // `none` is never in the set; HS* only for secret-backed issuers (no RSA-key-as-HMAC-secret).
    if (!issuer.algorithms.has(alg)) return tokenFailure('algorithm_not_allowed', undefined, iss);
    // We implement no JWS extensions, and `b64: false` would change what the signature covers.
    if (header.crit !== undefined) return tokenFailure('token_malformed', undefined, iss);
    if (typ !== undefined && typeof typ !== 'string') {
      return tokenFailure('token_type_invalid', undefined, iss);
    }
    if (
      issuer.tokenTypes !== undefined &&
      (typ === undefined || !issuer.tokenTypes.has(normalizeTyp(typ)))
    ) {
      return tokenFailure('token_type_invalid', undefined, iss);
    }
    if (kid !== undefined && typeof kid !== 'string') {
      return tokenFailure('token_malformed', undefined, iss);
    }

    let lookup = issuer.resolver.resolve({ alg, kid });
    if (lookup instanceof Promise) lookup = await lookup;
    if (!lookup.ok) return tokenFailure(lookup.code, lookup.message, iss);

    try {
      await compactVerify(token, lookup.key, issuer.verifyOptions);
    } catch (error) {
      const failure = translateJoseError(error);
      return tokenFailure(failure.code, failure.message, iss);
    }

    const nowMs = now();
    const claimFailure = checkClaims(payload, issuer, nowMs);
    if (claimFailure !== undefined)
      return tokenFailure(claimFailure.code, claimFailure.message, iss);

    const result: VerifiedToken = {
      ok: true,
      // Shared by every later hit on the cached entry, so nobody downstream may mutate them.
      claims: internTree(payload),
      header: Object.freeze(verifiedHeader(alg, kid, typ)),
      issuer: iss,
      expiresAtMs: (payload.exp as number) * 1000,
      tokenHash: tokenFingerprint(token),
      cached: false,
      dpopJkt: issuer.acceptBoundTokens ? undefined : dpopKeyOf(payload),
    };
    // Accepted within clock tolerance but already past exp: valid now, never worth caching.
    if (cache.enabled && nowMs < result.expiresAtMs) {
      cache.set(token, Object.freeze({ ...result, cached: true }));
    }
    return result;
  }

  function peek(token: string): VerifyResult | undefined {
    if (typeof token !== 'string' || token.length === 0) return MISSING;
    // UTF-8 is never shorter than the UTF-16 length, so this refuses every oversized token
    // before any parsing; non-ASCII ones under it fail the base64url check.
    if (token.length > maxTokenBytes) return TOO_LARGE;
    if (!cache.enabled) return undefined;
    const hit = cache.get(token, now());
    if (hit !== undefined) observer.cacheHit();
    return hit;
  }

  return {
    async verify(token) {
      const known = peek(token);
      if (known !== undefined) return known;
      if (cache.enabled) observer.cacheMiss();
      return verifyUncached(token);
    },

    peek,

    async start() {
      // Remote sources never reject (an outage leaves them NOT_READY); files reject with their path.
      await Promise.all([...issuers.values()].map((issuer) => issuer.resolver.start()));
    },

    async stop() {
      await Promise.all([...issuers.values()].map((issuer) => issuer.resolver.stop()));
    },

    status() {
      return aggregateStatus(issuers);
    },
  };
}

function prepareIssuer(
  config: IssuerConfig,
  options: TokenVerifierOptions,
  now: () => number,
  observer: TokenObserver,
): IssuerRuntime {
  const isSecret = config.keys.kind === 'secret';
  const algorithms = config.algorithms.filter(
    (alg) => KNOWN_ALGORITHMS.has(alg) && HMAC_ALGORITHMS.has(alg) === isSecret,
  );
  if (config.audiences.length === 0) {
    throw new TypeError(`issuer ${config.issuer}: audiences must not be empty`);
  }
  return {
    issuer: config.issuer,
    algorithms: new Set(algorithms),
    tokenTypes:
      config.tokenTypes === undefined ? undefined : new Set(config.tokenTypes.map(normalizeTyp)),
    audiences: [...config.audiences],
    clockToleranceSeconds: config.clockToleranceSeconds,
    requiredClaims: [...config.requiredClaims],
    acceptBoundTokens: config.senderConstrained === 'accept',
    requireDpopBinding: options.requireDpopBinding === true,
    // jose re-checks the algorithm: defence in depth should our own check ever regress.
    verifyOptions: { algorithms },
    resolver: createResolver(config, algorithms, options, now, observer),
  };
}

function createResolver(
  config: IssuerConfig,
  algorithms: readonly string[],
  options: TokenVerifierOptions,
  now: () => number,
  observer: TokenObserver,
): KeyResolver {
  const source = config.keys;
  switch (source.kind) {
    case 'jwks_uri':
      return createRemoteKeyResolver({
        issuer: config.issuer,
        source,
        algorithms,
        now,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        onFetch: (detail) => observer.jwksFetch(config.issuer, detail),
      });
    case 'jwks_file':
      return createFileKeyResolver({ source, algorithms });
    case 'secret':
      return createSecretKeyResolver({ source, algorithms });
  }
}

/** RFC 9068 §4: `at+jwt` and `application/at+jwt` are the same type; media types are case-insensitive. */
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function verifiedHeader(
  alg: string,
  kid: string | undefined,
  typ: unknown,
): VerifiedToken['header'] {
  if (kid === undefined) return typeof typ === 'string' ? { alg, typ } : { alg };
  return typeof typ === 'string' ? { alg, kid, typ } : { alg, kid };
}

const SEVERITY: Readonly<Record<ComponentState, number>> = {
  OK: 0,
  WARN: 1,
  ERROR: 2,
  NOT_READY: 3,
};

/** The worst issuer state wins: one issuer without keys makes the verifier NOT_READY. */
function aggregateStatus(issuers: ReadonlyMap<string, IssuerRuntime>): ComponentStatus {
  const detail: Record<string, { state: ComponentState; message: string | undefined }> = {};
  let state: ComponentState = 'OK';
  const problems: string[] = [];
  for (const [iss, runtime] of issuers) {
    const status = runtime.resolver.status();
    detail[iss] = { state: status.state, message: status.message };
    if (SEVERITY[status.state] > SEVERITY[state]) state = status.state;
    if (status.state !== 'OK') problems.push(status.message ?? `${iss}: ${status.state}`);
  }
  if (issuers.size === 0) {
    return {
      state: 'WARN',
      message: 'no issuers configured: every token is refused',
      detail: { issuers: detail },
    };
  }
  const message = problems.length === 0 ? `${issuers.size} issuer(s) ready` : problems.join('; ');
  return { state, message, detail: { issuers: detail } };
}
