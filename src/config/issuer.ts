// Resolves one validated issuer entry (`issuers[]`, `admin.jwt`) into an IssuerConfig, with the key-source and algorithm rules the schema cannot express.
import { ConfigError } from './errors.js';
import { RFC9068_REQUIRED_CLAIMS } from './schema/issuer.js';
import type { IssuerFile } from './schema/root.js';
import { SYMMETRIC_ALGORITHMS, type IssuerConfig, type KeySource } from './types.js';

/** Resolves `raw` found at `key` (e.g. `issuers[0]`); `at` resolves relative paths. */
export function resolveIssuer(
  key: string,
  raw: IssuerFile,
  at: (p: string) => string,
): IssuerConfig {
  const keys = keySource(key, raw, at);
  raw.algorithms.forEach((alg, i) => {
    const where = `${key}.algorithms[${i}]`;
    if ((SYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      if (keys.kind !== 'secret')
        throw new ConfigError(where, `${alg} is only allowed with an explicit secret`);
    } else if (keys.kind === 'secret') {
      throw new ConfigError(where, `${alg} needs jwks_uri or jwks_file, not secret`);
    }
  });
  return {
    issuer: raw.issuer,
    keys,
    audiences: raw.audiences,
    algorithms: raw.algorithms,
    ...(raw.token_types ? { tokenTypes: raw.token_types } : {}),
    clockToleranceSeconds: raw.clock_tolerance_seconds,
    requiredClaims: raw.required_claims,
    ...(raw.max_token_lifetime_seconds !== undefined
      ? { maxTokenLifetimeSeconds: raw.max_token_lifetime_seconds }
      : {}),
    senderConstrained: raw.sender_constrained,
  };
}

/** Exactly one of jwks_uri, jwks_file or secret. */
function keySource(key: string, raw: IssuerFile, at: (p: string) => string): KeySource {
  const given = [raw.jwks_uri, raw.jwks_file, raw.secret].filter((v) => v !== undefined);
  if (given.length !== 1) {
    throw new ConfigError(
      `${key}.jwks_uri`,
      'exactly one of jwks_uri, jwks_file or secret is required',
    );
  }
  if (raw.jwks_uri !== undefined) {
    return {
      kind: 'jwks_uri',
      uri: raw.jwks_uri,
      refreshSeconds: raw.jwks_refresh_seconds,
      refetchPerMinute: raw.jwks_refetch_per_minute,
      timeoutMs: raw.jwks_timeout_ms,
    };
  }
  if (raw.jwks_file !== undefined) return { kind: 'jwks_file', path: at(raw.jwks_file) };
  const secret = raw.secret as string;
  if (Buffer.byteLength(secret) < 32)
    throw new ConfigError(`${key}.secret`, 'must be at least 32 bytes');
  return { kind: 'secret', secret };
}

/** The issuer dev mode trusts: the key `mandate dev` signs with, in the state folder. */
export function devIssuer(issuer: string, audience: string, jwksPath: string): IssuerConfig {
  return {
    issuer,
    keys: { kind: 'jwks_file', path: jwksPath },
    audiences: [audience],
    algorithms: ['ES256'],
    tokenTypes: ['at+jwt'],
    clockToleranceSeconds: 30,
    requiredClaims: RFC9068_REQUIRED_CLAIMS,
  };
}
