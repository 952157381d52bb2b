// The verified-token shape and the verifier interface the pipeline depends on.
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { TokenFailure } from './errors.js';

/** Claims of a token whose signature and registered claims have been checked. */
export interface VerifiedToken {
  readonly ok: true;
  /** The full, verified JWT claims set. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The protected header (alg, kid, typ). */
  readonly header: Readonly<{ alg: string; kid?: string; typ?: string }>;
  /** The configured issuer the token matched. */
  readonly issuer: string;
  /** `exp` in epoch milliseconds; the cache never serves the entry at or after this instant. */
  readonly expiresAtMs: number;
  /** Short, non-reversible fingerprint of the raw token, for audit (first 16 hex chars of SHA-256). */
  readonly tokenHash: string;
  /** True when this result came from the verified-token cache. */
  readonly cached: boolean;
  /**
   * Set for a DPoP-bound token (`cnf.jkt`) whose issuer does not accept bound tokens as bearer
   * tokens: every request with it must carry a DPoP proof by that key (RFC 9449).
   */
  readonly dpopJkt?: string;
}

export type VerifyResult = VerifiedToken | TokenFailure;

export interface TokenVerifier {
  /** Verify a compact JWS. Never throws for bad input: failures are values. */
  verify(token: string): Promise<VerifyResult>;
  /**
   * The answer when it is known without verifying: a cached token, or one refused before any
   * parsing (missing, oversized). Undefined means verify() must run. Lets a repeated token be
   * decided without waiting for a promise.
   */
  peek(token: string): VerifyResult | undefined;
  /** Fetch remote key sets once (best effort) so the first request does not pay for it. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** NOT_READY while any issuer has never had a usable key set. */
  status(): ComponentStatus;
}
