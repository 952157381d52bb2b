// The exchanger's public shapes: what a caller asks, what it gets back, and what observes it.
import type { ExchangeOutcome } from '../audit/exchange-record.js';
import type { Decision } from '../core/decision.js';
import type { Transport } from '../core/request.js';
import type { DpopEvidence } from '../token/dpop.js';
import type { ExchangeFailure } from './errors.js';

export interface ExchangeRequest {
  /** The caller's access token (the subject token); undefined when none was presented. */
  readonly subjectToken: string | undefined;
  /** Who the new token is for (RFC 8693 `audience`). */
  readonly audience: string;
  /** Scopes asked for; empty asks the AS for its default for the audience. */
  readonly scopes?: readonly string[];
  /** RFC 8707 resource indicator, passed on to the AS. */
  readonly resource?: string;
  /** Tenant the caller says it acts in; must equal the subject token's tenant when given. */
  readonly tenant?: string;
  readonly transport: Transport;
  readonly requestId?: string;
  /**
   * How the subject token was presented and what its DPoP proof must match, from adapters that see
   * the outbound HTTP request (Envoy egress). The gate applies the same binding rules as any check
   * (RFC 9449): a DPoP-bound token needs a good proof, the DPoP scheme needs a bound token.
   */
  readonly dpop?: DpopEvidence;
}

export interface ExchangeSuccess {
  readonly ok: true;
  readonly accessToken: string;
  /** Fingerprint of the issued token, for audit. */
  readonly tokenHash: string;
  readonly issuedTokenType: string;
  readonly tokenType: string;
  /** Seconds the token has left (for a cached token, what remains of its life). */
  readonly expiresIn?: number;
  /** Granted scopes, space-separated. */
  readonly scope?: string;
  readonly cache: 'hit' | 'miss' | 'shared';
  readonly decision: Decision;
}

export type ExchangeResult = ExchangeSuccess | ExchangeFailure;

/** Notified of every exchange and every call to the AS (metrics). */
export interface ExchangeObserver {
  exchange?(
    outcome: ExchangeOutcome,
    cache: 'hit' | 'miss' | 'shared' | 'none',
    seconds: number,
  ): void;
  asCall?(grant: 'token_exchange' | 'client_credentials', result: string): void;
}
