// DPoP proofs (RFC 9449 §4.3): a DPoP-bound access token is accepted only with a fresh proof signed by the key it is bound to.
import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  importJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { ASYMMETRIC_ALGORITHMS } from '../config/types.js';
import { ClockCache } from '../lib/clock-cache.js';

/** What a transport saw of the request a DPoP proof must match. */
export interface DpopEvidence {
  /** How the token was presented: RFC 9449 wants the `DPoP` scheme for a bound token. */
  readonly scheme: 'bearer' | 'dpop';
  /** The `DPoP` header; undefined when absent (or present more than once). */
  readonly proof: string | undefined;
  /** The request method, upper case. */
  readonly method: string;
  /** The request URL without query and fragment: `scheme://host/path`. */
  readonly url: string;
}

export interface DpopVerifierOptions {
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** Oldest accepted proof (`iat`), seconds. Default 60. */
  readonly maxAgeSeconds?: number;
  /** Leeway for a proof's `iat` in the future, seconds. Default 5. */
  readonly clockToleranceSeconds?: number;
  /** Proof ids remembered against replay. Default 100,000. */
  readonly replayCacheEntries?: number;
}

export interface DpopVerifier {
  /** Undefined when the proof is good for this token and request; else why it is not. */
  verify(evidence: DpopEvidence, accessToken: string, jkt: string): Promise<string | undefined>;
}

/** Asymmetric JWS algorithms only: a proof is signed with the client's private key. */
const PROOF_ALGORITHMS: ReadonlySet<string> = new Set(ASYMMETRIC_ALGORITHMS);
/** Members only a private (or symmetric) JWK has; a proof's `jwk` must be public. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_PROOF_BYTES = 8192;
const MAX_JTI = 256;

/** The URL a proof's `htu` is compared by: scheme, host (with a non-default port) and path. */
function comparableUrl(text: string): string | undefined {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

export function createDpopVerifier(options: DpopVerifierOptions = {}): DpopVerifier {
  const now = options.now ?? Date.now;
  const maxAge = options.maxAgeSeconds ?? 60;
  const tolerance = options.clockToleranceSeconds ?? 5;
  /** Proof ids seen, per key, with when they stop mattering (their `iat` is then too old). */
  const seen = new ClockCache<string, number>(options.replayCacheEntries ?? 100_000);

  return {
    async verify(evidence, accessToken, jkt) {
      const proof = evidence.proof;
      if (evidence.scheme !== 'dpop') return 'a DPoP-bound token must be sent with the DPoP scheme';
      if (proof === undefined || proof === '') return 'the DPoP proof header is missing';
      if (proof.length > MAX_PROOF_BYTES) return 'the DPoP proof is too large';
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        return 'the DPoP proof is not a well-formed JWS';
      }
      const { alg, typ, jwk } = header;
      if (typ !== 'dpop+jwt') return 'the DPoP proof typ must be dpop+jwt';
      if (typeof alg !== 'string' || !PROOF_ALGORITHMS.has(alg)) {
        return 'the DPoP proof algorithm is not allowed';
      }
      if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
        return 'the DPoP proof carries no public key (jwk)';
      }
      if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) {
        return 'the DPoP proof key must be a public key';
      }
      let thumbprint: string;
      let payload: JWTPayload;
      try {
        thumbprint = await calculateJwkThumbprint(jwk as JWK, 'sha256');
        if (thumbprint !== jkt)
          return 'the DPoP proof is signed by a key the token is not bound to';
        const key = await importJWK(jwk as JWK, alg);
        ({ payload } = await jwtVerify(proof, key, {
          typ: 'dpop+jwt',
          algorithms: [alg],
          currentDate: new Date(now()),
          clockTolerance: tolerance,
          maxTokenAge: maxAge,
        }));
      } catch {
        return 'the DPoP proof signature or timestamps do not verify';
      }
      const { htm, htu, jti, ath } = payload as Record<string, unknown>;
      if (htm !== evidence.method) return 'the DPoP proof is for another method (htm)';
      const expected = comparableUrl(evidence.url);
      if (typeof htu !== 'string' || expected === undefined || comparableUrl(htu) !== expected) {
        return 'the DPoP proof is for another URL (htu)';
      }
      const hash = createHash('sha256').update(accessToken).digest('base64url');
      if (ath !== hash) return 'the DPoP proof is for another access token (ath)';
      if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) {
        return 'the DPoP proof needs a jti';
      }
      // Within the proof's lifetime a jti is good once; a proof too old is refused anyway.
      const replayKey = `${jkt}.${jti}`;
      const nowMs = now();
      const until = seen.get(replayKey);
      if (until !== undefined && until > nowMs) return 'the DPoP proof was used before (jti)';
      seen.set(replayKey, ((payload.iat as number) + maxAge + tolerance) * 1000);
      return undefined;
    },
  };
}
