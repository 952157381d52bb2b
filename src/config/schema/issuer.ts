// Schema of one trusted token issuer (`issuers[]`, and `admin.jwt` which adds two keys to it).
import { Type } from '@sinclair/typebox';
import { ASYMMETRIC_ALGORITHMS, SYMMETRIC_ALGORITHMS } from '../types.js';
import { int, oneOf, retired, str, strList } from './build.js';

/** RFC 9068 §2.2 required claims. */
export const RFC9068_REQUIRED_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];

/** The keys of an issuer entry; `admin.jwt` reuses them. */
export const issuerProperties = {
  issuer: str({ description: 'Exact `iss` value; duplicates are rejected.' }),
  jwks_uri: Type.Optional(
    str({
      pattern: '^https?://',
      errorMessage: { pattern: 'must be an http(s) URL' },
      description:
        'JWKS over HTTP(S); see [JWKS keys](#jwks-keys) below. Exactly one of `jwks_uri`, `jwks_file` or `secret`.',
    }),
  ),
  jwks_file: Type.Optional(
    str({
      description:
        'A JWKS file read at start (an unreadable file stops start-up, naming the path); relative to the config file.',
    }),
  ),
  secret: Type.Optional(
    str({
      description: 'Shared secret (≥ 32 bytes) — the only way HS256/384/512 are accepted.',
    }),
  ),
  audiences: strList({
    minItems: 1,
    errorMessage: { minItems: 'must list at least one audience' },
    description: '`aud` must contain at least one of these; a non-empty list.',
  }),
  algorithms: Type.Array(
    oneOf([...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS], {
      errorMessage: 'unsupported algorithm {value} ("none" is never allowed)',
    }),
    {
      default: ['RS256', 'ES256'],
      description:
        'Allow-list of JWS `alg` values: RS/PS/ES 256/384/512, EdDSA; HS* only with `secret`; `none` never.',
    },
  ),
  token_types: Type.Optional(
    strList({
      'x-default': 'any',
      description:
        'Accepted JOSE `typ` values (RFC 9068 uses `at+jwt`), compared case-insensitively, `application/` prefix ignored.',
    }),
  ),
  clock_tolerance_seconds: int(0, 600, {
    default: 30,
    description: 'Leeway for `exp`, `nbf`, `iat`, seconds.',
  }),
  required_claims: strList({
    default: RFC9068_REQUIRED_CLAIMS,
    description: 'Claims that must be present (RFC 9068 §2.2); `exp` is always required.',
  }),
  jwks_refresh_seconds: int(1, 86_400, {
    default: 300,
    description: 'Background refresh period of a `jwks_uri`, seconds.',
  }),
  jwks_cooldown_seconds: Type.Optional(
    retired(
      'was replaced by jwks_refetch_per_minute (a token bucket: default 5)',
      'Replaced by `jwks_refetch_per_minute`; refused.',
    ),
  ),
  jwks_refetch_per_minute: int(0, 600, {
    default: 5,
    description:
      'Fetches that unknown `kid`s may trigger: a token bucket refilled at this rate per minute that allows a burst of as many; a flood of random kids costs at most that, and a real rotation is not held up by a few bogus kids. `0`: only start-up and the background refresh fetch.',
  }),
  jwks_timeout_ms: int(100, 60_000, {
    default: 5000,
    description:
      'Deadline of one JWKS fetch, body included, milliseconds: a hanging endpoint holds a check for at most this long.',
  }),
  max_token_lifetime_seconds: Type.Optional(
    int(60, 31_536_000, {
      'x-default': '`revocation.max_token_lifetime_seconds`',
      description:
        "Longest `exp - iat` of this issuer's tokens, seconds; bounds how long revocation entries live.",
    }),
  ),
  sender_constrained: oneOf(['deny', 'accept'], {
    default: 'deny',
    description:
      "A token with a `cnf` key-binding claim: `deny` checks a DPoP binding (`cnf.jkt`) against the request's DPoP proof (Envoy adapters) and refuses any other binding, with `token_binding_unverified`; `accept` takes bound tokens as bearer tokens, for when a proxy in front already checks the proofs.",
  }),
};
