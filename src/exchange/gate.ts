// Builds what an exchange asks of the decision pipeline (the gating request) and the subject a granted exchange is cached under.
import type { Decision } from '../core/decision.js';
import type { AuthzRequest } from '../core/request.js';
import type { VerifiedToken } from '../token/types.js';
import type { SubjectInfo } from './exchange-cache.js';
import type { ExchangeRequest } from './types.js';

/** The action the gating decision asks; policies recognise an exchange by it (policies/base/exchange.rego). */
export const EXCHANGE_ACTION = 'token.exchange';

/** The resource type of the gating decision: the target audience. */
export const EXCHANGE_RESOURCE_TYPE = 'audience';

/** Sorted and de-duplicated, so `a b` and `b a` share a cache entry and policies see one shape. */
export function normaliseScopes(scopes: readonly string[] | undefined): string[] {
  if (scopes === undefined || scopes.length === 0) return [];
  return [...new Set(scopes.filter((s) => s.length > 0))].sort();
}

/** The decision request that gates an exchange: `token.exchange` on the audience, mandate as the actor. */
export function gateRequest(
  request: ExchangeRequest,
  scopes: readonly string[],
  actorName: string,
): AuthzRequest {
  return {
    token: request.subjectToken,
    action: EXCHANGE_ACTION,
    resource: {
      type: EXCHANGE_RESOURCE_TYPE,
      id: request.audience,
      attributes: {
        scopes,
        ...(request.resource !== undefined ? { resource: request.resource } : {}),
      },
    },
    ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
    context: { actor: actorName },
    transport: request.transport,
    ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
    ...(request.dpop !== undefined ? { dpop: request.dpop } : {}),
  };
}

/** Who an allowed exchange was for, as a cache entry remembers it (for revocation sweeps). */
export function subjectOf(verified: VerifiedToken, decision: Decision): SubjectInfo {
  const jti = verified.claims['jti'];
  return {
    tokenHash: verified.tokenHash,
    ...(typeof jti === 'string' ? { jti } : {}),
    ...(decision.subject?.sub !== undefined ? { sub: decision.subject.sub } : {}),
    ...(decision.subject?.tenant !== undefined ? { tenant: decision.subject.tenant } : {}),
    ...(decision.subject?.clientId !== undefined ? { clientId: decision.subject.clientId } : {}),
    act: decision.subject?.act ?? [],
    issuer: verified.issuer,
    claims: verified.claims,
  };
}
