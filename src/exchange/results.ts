// Shapes what an exchange returns: a success from a cache entry, or a failure value with its code (the one place codes meet results).
import { randomUUID } from 'node:crypto';
import type { Decision } from '../core/decision.js';
import type { ExchangeFailure, ExchangeFailureCode } from './errors.js';
import type { CachedExchange } from './exchange-cache.js';
import type { ExchangeSuccess } from './types.js';

/** The success answer for `entry`, its lifetime counted from `nowMs`. */
export function success(
  entry: CachedExchange,
  cacheResult: 'hit' | 'miss' | 'shared',
  decision: Decision,
  nowMs: number,
): ExchangeSuccess {
  const remaining = Math.max(0, Math.floor((entry.expiresAtMs - nowMs) / 1000));
  return {
    ok: true,
    accessToken: entry.accessToken,
    tokenHash: entry.tokenHash,
    issuedTokenType: entry.issuedTokenType,
    tokenType: entry.tokenType,
    expiresIn: remaining,
    ...(entry.scope !== undefined ? { scope: entry.scope } : {}),
    cache: cacheResult,
    decision,
  };
}

/** A failure value; `asError` and `asStatus` carry what the AS said, when it said something. */
export function failure(
  code: ExchangeFailureCode,
  decision: Decision,
  detail: { message: string; asError?: string; asStatus?: number },
): ExchangeFailure {
  return {
    ok: false,
    code,
    message: detail.message,
    decision,
    ...(detail.asError !== undefined ? { asError: detail.asError } : {}),
    ...(detail.asStatus !== undefined ? { asStatus: detail.asStatus } : {}),
  };
}

/** The deny an exchange carries when it failed before any decision was made (an exception). */
export function internalDecision(): Decision {
  return {
    allow: false,
    decisionId: randomUUID(),
    reasons: [{ code: 'internal_error', message: 'the exchange failed unexpectedly' }],
    latencyUs: 0,
  };
}
