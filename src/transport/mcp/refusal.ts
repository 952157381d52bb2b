// One exhaustive map from a denied decision to what an MCP client is answered: HTTP status, challenge, JSON-RPC error.
import type { McpResourceOptions } from './options.js';
import type { Decision } from '../../core/decision.js';
import { classifyReason, type ReasonCode } from '../../core/reasons.js';
import { dpopAlgorithmsOf } from '../resource-metadata.js';
import { bearerChallenge, type ChallengeError } from './challenge.js';
import {
  JSONRPC_FORBIDDEN,
  JSONRPC_INTERNAL_ERROR,
  JSONRPC_INVALID_PARAMS,
  errorBody,
  type JsonRpcId,
} from './jsonrpc.js';

export interface Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A JSON-RPC error (id null when the message had none). */
  readonly body: string;
}

/**
 * The scopes a 403 `insufficient_scope` names. A policy reason may list every scope the operation
 * needs (`scopes`); without one, the resource's advertised scopes, so step-up still asks for enough.
 */
function challengeScopes(decision: Decision, resource: McpResourceOptions): readonly string[] {
  for (const reason of decision.reasons) {
    if (
      reason.code === 'insufficient_scope' &&
      reason.scopes !== undefined &&
      reason.scopes.length > 0
    ) {
      return reason.scopes;
    }
  }
  return resource.scopesSupported;
}

/**
 * RFC 9449 §7.1: a resource that requires DPoP, or a token that came with the DPoP scheme, is
 * answered in the `DPoP` scheme with the algorithms accepted; anything else in `Bearer`.
 */
function dpopAlgorithmsFor(
  resource: McpResourceOptions,
  scheme: 'bearer' | 'dpop' | undefined,
): { dpopAlgorithms?: readonly string[] } {
  return resource.dpopRequired || scheme === 'dpop'
    ? { dpopAlgorithms: dpopAlgorithmsOf(resource) }
    : {};
}

/** The challenge's error for a token problem: RFC 9449's own code for a proof that failed. */
function tokenError(decision: Decision, dpop: boolean): ChallengeError {
  return dpop && decision.dpopError === 'invalid_dpop_proof'
    ? 'invalid_dpop_proof'
    : 'invalid_token';
}

/**
 * The answer to a denied message. Token problems are HTTP 401 with the RFC 9728 challenge (no
 * `error` when no token came, RFC 6750 §3.1); a missing scope is 403 `insufficient_scope` naming
 * the scopes to ask for; a policy refusal of a request is a JSON-RPC error the client's caller
 * sees (HTTP 200), of a notification or a stream an HTTP 403. `scheme` is how the token came.
 */
export function refusalOf(
  decision: Decision,
  resource: McpResourceOptions,
  id: JsonRpcId | null,
  isRequest: boolean,
  scheme?: 'bearer' | 'dpop',
): Refusal {
  const dpop = dpopAlgorithmsFor(resource, scheme);
  const first = decision.reasons[0];
  const code: ReasonCode = first?.code ?? 'internal_error';
  const message = first?.message ?? 'denied';
  const data = {
    decision_id: decision.decisionId,
    reasons: decision.reasons.map((r) => ({ code: r.code, message: r.message })),
  };
  const json = { 'content-type': 'application/json' };
  switch (classifyReason(code)) {
    case 'unauthenticated':
      return {
        status: 401,
        headers: {
          ...json,
          'www-authenticate': bearerChallenge({
            resourceUri: resource.uri,
            scopes: resource.scopesSupported,
            ...dpop,
            ...(code === 'token_missing'
              ? {}
              : {
                  error: tokenError(decision, dpop.dpopAlgorithms !== undefined),
                  description: message,
                }),
          }),
        },
        body: errorBody(id, JSONRPC_FORBIDDEN, message, data),
      };
    case 'forbidden':
      if (code === 'insufficient_scope') {
        return {
          status: 403,
          headers: {
            ...json,
            'www-authenticate': bearerChallenge({
              resourceUri: resource.uri,
              scopes: challengeScopes(decision, resource),
              ...dpop,
              error: 'insufficient_scope',
              description: message,
            }),
          },
          body: errorBody(id, JSONRPC_FORBIDDEN, message, data),
        };
      }
      return {
        status: isRequest ? 200 : 403,
        headers: json,
        body: errorBody(id, JSONRPC_FORBIDDEN, message, data),
      };
    case 'invalid':
      return {
        status: 400,
        headers: json,
        body: errorBody(id, JSONRPC_INVALID_PARAMS, message, data),
      };
    case 'unavailable':
      return {
        status: 503,
        headers: { ...json, 'retry-after': '1' },
        body: errorBody(id, JSONRPC_INTERNAL_ERROR, message, data),
      };
  }
}
