// The Envoy adapter shared by gRPC and HTTP ext_authz: EnvoyCall → AuthzRequest and its terms (request.ts) → decideWith() → verdict (response.ts).
import type { EnvoyConfig } from '../../config/envoy.js';
import type { Decider, Decision } from '../../core/decision.js';
import type { AuthzRequest } from '../../core/request.js';
import type { RouteTable } from '../route-table.js';
import type { EnvoyCall } from './input.js';
import { mcpDenialOf, withoutCredentials, type EnvoyMcpOptions } from './mcp-call.js';
import type { McpResourceOptions } from '../mcp/options.js';
import { createEnvoyRequestMapper } from './request.js';
import { createEnvoyResponder, type EnvoyVerdict } from './response.js';

export interface EnvoyAuthorizer {
  /** Never throws: a failure of decide() or of the mapping is a 503 deny (or an error verdict). */
  authorize(call: EnvoyCall): Promise<EnvoyVerdict>;
}

export interface EnvoyAuthorizerDeps {
  readonly decider: Decider;
  readonly config: EnvoyConfig;
  readonly routes: RouteTable;
  /** Evaluate the OPA-Envoy compatibility policy instead of base AND tenant. */
  readonly compat: boolean;
  /** Deepest nesting accepted in a parsed body; deeper is denied with `request_invalid`. Default 64. */
  readonly maxNestingDepth?: number;
  /**
   * MCP resources (the `mcp:` section): calls on their paths are decided per JSON-RPC message by
   * the resource's own pipeline (tokens bound to its URI as audience) and denied in MCP's terms.
   */
  readonly mcp?: EnvoyMcpOptions & {
    readonly deciderFor: (resource: McpResourceOptions) => Decider;
  };
  readonly onError?: (err: unknown) => void;
}

/**
 * The Envoy ingress authorizer: maps the call, asks the decider for each request it maps to (two
 * under a method override, each audited), and shapes the answer. The first denial is the answer;
 * when all allow, the first decision (the method an override names) shapes the allow.
 */
export function createEnvoyAuthorizer(deps: EnvoyAuthorizerDeps): EnvoyAuthorizer {
  const { decider } = deps;
  const toRequests = createEnvoyRequestMapper(deps);
  const responder = createEnvoyResponder(deps);
  return {
    async authorize(call) {
      try {
        let answer: { decision: Decision; request: AuthzRequest } | undefined;
        let onMcpPath = false;
        for (const { request, terms, mcp } of toRequests(call)) {
          onMcpPath ||= mcp !== undefined;
          const by = mcp !== undefined && deps.mcp ? deps.mcp.deciderFor(mcp.resource) : decider;
          const decision = await by.decideWith(request, terms);
          const shadowed = decision.dryRun === true;
          if (!decision.allow && !shadowed) {
            const asMcp = mcp && mcpDenialOf(decision, mcp, deps.config.identityHeaders.decisionId);
            return asMcp ?? responder.verdictOf(decision, request, false);
          }
          // A shadowed denial (dry run) is what the answer reports, whatever came before it.
          if (answer === undefined || (!decision.allow && answer.decision.allow)) {
            answer = { decision, request };
          }
        }
        if (answer === undefined) throw new Error('the call mapped to no request');
        const verdict = responder.verdictOf(
          answer.decision,
          answer.request,
          answer.decision.dryRun === true,
        );
        return onMcpPath ? withoutCredentials(verdict, deps.config.tokenHeaders) : verdict;
      } catch (err) {
        return responder.failed(err);
      }
    },
  };
}
