// The Envoy adapter shared by gRPC and HTTP ext_authz: EnvoyCall → AuthzRequest and its terms (request.ts) → decideWith() → verdict (response.ts).
import type { EnvoyConfig } from '../../config/envoy.js';
import type { Decider } from '../../core/decision.js';
import type { RouteTable } from '../route-table.js';
import type { EnvoyCall } from './input.js';
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
  readonly onError?: (err: unknown) => void;
}

/** The Envoy ingress authorizer: maps the call, asks the decider once, shapes the answer. */
export function createEnvoyAuthorizer(deps: EnvoyAuthorizerDeps): EnvoyAuthorizer {
  const { decider } = deps;
  const toRequest = createEnvoyRequestMapper(deps);
  const responder = createEnvoyResponder(deps);
  return {
    async authorize(call) {
      try {
        const { request, terms } = toRequest(call);
        const decision = await decider.decideWith(request, terms);
        const shadowed = decision.dryRun === true;
        return responder.verdictOf(decision, request, shadowed);
      } catch (err) {
        return responder.failed(err);
      }
    },
  };
}
