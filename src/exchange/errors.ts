// Exchange failures are values with a closed set of codes; transports map each code to one status.
import type { Decision } from '../core/decision.js';

/**
 * Why an exchange produced no token:
 * - `denied`: the gating decision denied (the subject token or the policy); nothing was sent to the AS.
 * - `as_rejected`: the authorization server answered with an OAuth error (`as_error` says which).
 * - `as_unavailable`: the AS could not be reached, or answered 5xx, after the bounded retries.
 * - `as_timeout`: the AS did not answer within `exchange.timeout_ms` on any attempt.
 * - `as_invalid_response`: the AS answered 200 with something that is not a token response.
 * - `internal_error`: mandate failed unexpectedly (a bug); nothing is issued.
 */
export const EXCHANGE_FAILURE_CODES = [
  'denied',
  'as_rejected',
  'as_unavailable',
  'as_timeout',
  'as_invalid_response',
  'internal_error',
] as const;

export type ExchangeFailureCode = (typeof EXCHANGE_FAILURE_CODES)[number];

/** What went wrong talking to the authorization server (never contains token material). */
export interface AsFailure {
  readonly code: Exclude<ExchangeFailureCode, 'denied' | 'internal_error'>;
  readonly message: string;
  /** The AS's OAuth `error` code, when it sent one. */
  readonly asError?: string;
  /** HTTP status of the AS's last answer, when there was one. */
  readonly asStatus?: number;
}

export interface ExchangeFailure {
  readonly ok: false;
  readonly code: ExchangeFailureCode;
  readonly message: string;
  /** The gating decision; its id is returned to the caller either way. */
  readonly decision: Decision;
  readonly asError?: string;
  readonly asStatus?: number;
}

/**
 * OAuth error codes meaning the AS refused this exchange (what the caller asked for, or its subject
 * token), not mandate's own client setup. RFC 8693 §2.2.2 uses `invalid_request` for a subject or
 * actor token the AS finds unacceptable.
 */
const CALLER_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_target',
  'invalid_scope',
  'invalid_grant',
  'access_denied',
]);

/** True when an `as_rejected` failure is about what the caller asked for rather than mandate's own client setup. */
export function isCallerRejection(asError: string | undefined): boolean {
  return asError !== undefined && CALLER_ERRORS.has(asError);
}
