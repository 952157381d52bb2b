// The token the upstream MCP server receives: the client's token exchanged (RFC 8693) for the upstream's audience, or a refusal when none can be had.
import type { TokenExchanger } from '../../exchange/exchanger.js';
import { JSONRPC_INTERNAL_ERROR, errorBody, type JsonRpcId } from './jsonrpc.js';
import type { McpRequestFacts } from './methods.js';
import type { McpResourceOptions } from './options.js';
import { refusalOf, type Refusal } from './refusal.js';

/** What the client's token is exchanged for (the `mcp.upstream_token.exchange` config). */
export interface UpstreamExchangeTarget {
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly resource?: string;
}

/** A token for the upstream, or what the client is answered instead (nothing is forwarded then). */
export type UpstreamTokenOutcome =
  { readonly ok: true; readonly token: string } | { readonly ok: false; readonly refusal: Refusal };

export interface UpstreamTokens {
  /** Never throws: the exchanger's failures are values, and each becomes a refusal. */
  obtain(
    facts: McpRequestFacts,
    resource: McpResourceOptions,
    id: JsonRpcId | null,
    isRequest: boolean,
  ): Promise<UpstreamTokenOutcome>;
}

/** A failure that is no answer about the caller: the authorization server or mandate itself. */
function badGateway(
  id: JsonRpcId | null,
  status: number,
  message: string,
  data: Readonly<Record<string, unknown>>,
): UpstreamTokenOutcome {
  return {
    ok: false,
    refusal: {
      status,
      headers: { 'content-type': 'application/json' },
      body: errorBody(id, JSONRPC_INTERNAL_ERROR, message, data),
    },
  };
}

/**
 * Exchanges through `exchanger`, which decides `token.exchange` on the audience (the gating
 * decision: same token, DPoP evidence and policies as the message), serves its cache, calls the
 * authorization server and audits the exchange. A gating denial is answered as any denial of the
 * message; the authorization server's failures are 502 (504 for its timeout), mandate's own 500.
 */
export function createUpstreamTokens(
  exchanger: TokenExchanger,
  target: UpstreamExchangeTarget,
): UpstreamTokens {
  return {
    async obtain(facts, resource, id, isRequest) {
      const result = await exchanger.exchange({
        subjectToken: facts.token,
        audience: target.audience,
        scopes: target.scopes,
        ...(target.resource !== undefined ? { resource: target.resource } : {}),
        transport: 'mcp',
        ...(facts.requestId !== undefined ? { requestId: facts.requestId } : {}),
        ...(facts.dpop !== undefined ? { dpop: facts.dpop } : {}),
      });
      const decisionId = result.decision.decisionId;
      if (result.ok) {
        // mandate holds no key to prove possession of a sender-constrained token: only Bearer goes.
        if (result.tokenType.toLowerCase() !== 'bearer') {
          return badGateway(
            id,
            502,
            `the authorization server issued a ${result.tokenType} token for the upstream MCP server; only Bearer tokens can be sent`,
            { decision_id: decisionId, exchange_error: 'as_invalid_response' },
          );
        }
        return { ok: true, token: result.accessToken };
      }
      if (result.code === 'denied') {
        return {
          ok: false,
          refusal: refusalOf(result.decision, resource, id, isRequest, facts.dpop?.scheme),
        };
      }
      const data = {
        decision_id: decisionId,
        exchange_error: result.code,
        ...(result.asError !== undefined ? { as_error: result.asError } : {}),
      };
      if (result.code === 'internal_error') {
        return badGateway(
          id,
          500,
          'the token for the upstream MCP server failed unexpectedly',
          data,
        );
      }
      return badGateway(
        id,
        result.code === 'as_timeout' ? 504 : 502,
        `no token for the upstream MCP server could be obtained (${result.code}): ${result.message}`,
        data,
      );
    },
  };
}
