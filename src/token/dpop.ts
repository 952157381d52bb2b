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
import { htuTarget, requestTarget, sameTarget } from './dpop-target.js';

/** The request a proof must be for, as the transport saw it (validated by the verifier, not before). */
export interface DpopRequest {
  /** The request method, upper case. */
  readonly method: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /** `host[:port]`: the Host, `:authority` or forwarded host the request came with. */
  readonly authority: string;
  /** The path, without query and fragment. */
  readonly path: string;
}

/** What a transport saw of the request a DPoP proof must match. */
export interface DpopEvidence {
  /** How the token was presented: RFC 9449 wants the `DPoP` scheme for a bound token, and a bound token for it. */
  readonly scheme: 'bearer' | 'dpop';
  /** The `DPoP` header; undefined when absent. Repeated headers arrive joined by commas. */
  readonly proof: string | undefined;
  /** Undefined when the transport does not see the protected request (the Check API): no proof can pass. */
  readonly request: DpopRequest | undefined;
}

/**
 * RFC 9449 §7.1's error code for the challenge: `invalid_dpop_proof` when the proof does not prove
 * this request, `invalid_token` when the token is not bound to the proof's key (or to none).
 */
export type DpopError = 'invalid_dpop_proof' | 'invalid_token';

/** Why a proof was refused; the message is safe to return (it never echoes the proof or request). */
export interface DpopFailure {
  readonly error: DpopError;
  readonly message: string;
}

/** Asymmetric JWS algorithms only: a proof is signed with the client's private key. */
export const DPOP_PROOF_ALGORITHMS: readonly string[] = ASYMMETRIC_ALGORITHMS;

export interface DpopVerifierOptions {
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** Oldest accepted proof (`iat`), seconds. Default 60. */
  readonly maxAgeSeconds?: number;
  /** Leeway for a proof's `iat` in the future, seconds. Default 5. */
  readonly clockToleranceSeconds?: number;
  /** Proof ids remembered against replay. Default 100,000. */
  readonly replayCacheEntries?: number;
  /**
   * Proof algorithms accepted, a subset of DPOP_PROOF_ALGORITHMS (a resource's advertised
   * `dpop_signing_alg_values_supported`). Default: all of them.
   */
  readonly algorithms?: readonly string[];
}

export interface DpopVerifier {
  /**
   * Undefined when the proof is good for this token and request; else why it is not. The same
   * evidence object proven before (for the same token and key) is good again: it is one request.
   */
  verify(
    evidence: DpopEvidence,
    accessToken: string,
    jkt: string,
  ): Promise<DpopFailure | undefined>;
}

/** Members only a private (or symmetric) JWK has; a proof's `jwk` must be public. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_PROOF_BYTES = 8192;
const MAX_JTI = 256;

const proofFailure = (message: string): DpopFailure => ({ error: 'invalid_dpop_proof', message });
const bindingFailure = (message: string): DpopFailure => ({ error: 'invalid_token', message });

export function createDpopVerifier(options: DpopVerifierOptions = {}): DpopVerifier {
  const now = options.now ?? Date.now;
  const maxAge = options.maxAgeSeconds ?? 60;
  const tolerance = options.clockToleranceSeconds ?? 5;
  const algorithms = options.algorithms ?? DPOP_PROOF_ALGORITHMS;
  const unknown = algorithms.filter((alg) => !DPOP_PROOF_ALGORITHMS.includes(alg));
  if (unknown.length > 0) throw new TypeError(`not DPoP proof algorithms: ${unknown.join(', ')}`);
  const accepted: ReadonlySet<string> = new Set(algorithms);
  /** Proof ids seen, per key, with when they stop mattering (their `iat` is then too old). */
  const seen = new ClockCache<string, number>(options.replayCacheEntries ?? 100_000);
  /**
   * Evidence objects already proven, with the token and key they were proven for. An adapter that
   * must decide one request for several actions (a method override: both methods) passes the same
   * evidence object each time; that is one use of the proof, not a replay. A request that arrives
   * again is read into a new object, so the jti check still applies to it.
   */
  const proven = new WeakMap<
    DpopEvidence,
    { readonly accessToken: string; readonly jkt: string }
  >();

  return {
    async verify(evidence, accessToken, jkt) {
      const earlier = proven.get(evidence);
      if (earlier !== undefined && earlier.accessToken === accessToken && earlier.jkt === jkt) {
        return undefined;
      }
      const proof = evidence.proof;
      if (evidence.scheme !== 'dpop') {
        return bindingFailure('a DPoP-bound token must be sent with the DPoP scheme');
      }
      if (evidence.request === undefined) {
        return proofFailure(
          'DPoP proofs cannot be checked here: the request they are for is not seen',
        );
      }
      if (proof === undefined || proof === '')
        return proofFailure('the DPoP proof header is missing');
      // RFC 9449 §4.3: exactly one DPoP header. Repeats arrive comma-joined; a JWS has no commas.
      if (proof.includes(',')) return proofFailure('there is more than one DPoP proof header');
      if (proof.length > MAX_PROOF_BYTES) return proofFailure('the DPoP proof is too large');
      const { method } = evidence.request;
      // Validated part by part first: a hostile authority (`/`, `?`, `#`, `@`, spaces) is refused
      // here rather than let it move the boundaries of a URL rebuilt from the parts.
      const expected = requestTarget(
        evidence.request.scheme,
        evidence.request.authority,
        evidence.request.path,
      );
      if (!expected.ok) return proofFailure(expected.message);
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        return proofFailure('the DPoP proof is not a well-formed JWS');
      }
      const { alg, typ, jwk } = header;
      if (typ !== 'dpop+jwt') return proofFailure('the DPoP proof typ must be dpop+jwt');
      if (typeof alg !== 'string' || !accepted.has(alg)) {
        return proofFailure('the DPoP proof algorithm is not allowed');
      }
      if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
        return proofFailure('the DPoP proof carries no public key (jwk)');
      }
      if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m))) {
        return proofFailure('the DPoP proof key must be a public key');
      }
      let payload: JWTPayload;
      try {
        const thumbprint = await calculateJwkThumbprint(jwk as JWK, 'sha256');
        if (thumbprint !== jkt) {
          return bindingFailure('the DPoP proof is signed by a key the token is not bound to');
        }
        const key = await importJWK(jwk as JWK, alg);
        ({ payload } = await jwtVerify(proof, key, {
          typ: 'dpop+jwt',
          algorithms: [alg],
          currentDate: new Date(now()),
          clockTolerance: tolerance,
          maxTokenAge: maxAge,
        }));
      } catch {
        return proofFailure('the DPoP proof signature or timestamps do not verify');
      }
      const { htm, htu, jti, ath } = payload as Record<string, unknown>;
      if (htm !== method) return proofFailure('the DPoP proof is for another method (htm)');
      if (typeof htu !== 'string') return proofFailure('the DPoP proof has no htu');
      const claimed = htuTarget(htu);
      if (!claimed.ok) return proofFailure(`${claimed.message} (htu)`);
      if (!sameTarget(claimed.target, expected.target)) {
        return proofFailure('the DPoP proof is for another URL (htu)');
      }
      const hash = createHash('sha256').update(accessToken).digest('base64url');
      if (ath !== hash) return proofFailure('the DPoP proof is for another access token (ath)');
      if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) {
        return proofFailure('the DPoP proof needs a jti');
      }
      // Within the proof's lifetime a jti is good once; a proof too old is refused anyway.
      const replayKey = `${jkt}.${jti}`;
      const nowMs = now();
      const until = seen.get(replayKey);
      if (until !== undefined && until > nowMs) {
        return proofFailure('the DPoP proof was used before (jti)');
      }
      seen.set(replayKey, ((payload.iat as number) + maxAge + tolerance) * 1000);
      proven.set(evidence, { accessToken, jkt });
      return undefined;
    },
  };
}
