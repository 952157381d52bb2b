// One audience-bound pipeline per MCP resource, shared by `mandate proxy` and by Envoy's ext_authz on MCP paths.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { McpConfig, McpResourceConfig } from '../config/mcp.js';
import type { MandateConfig } from '../config/types.js';
import { createDecider } from '../core/decide.js';
import type { Decider } from '../core/decision.js';
import { createDpopVerifier } from '../token/dpop.js';
import type { TokenVerifier } from '../token/types.js';
import { createTokenVerifier } from '../token/verifier.js';
import type { DecisionCore } from './core.js';
import type { Lifecycle } from './lifecycle.js';

/** One resource's pipeline, and the verifier under it (an exchange re-reads the claims there). */
export interface ResourcePipeline {
  readonly decider: Decider;
  readonly verifier: TokenVerifier;
}

/**
 * RFC 8707 audience binding: a resource's decider verifies tokens with every issuer's audiences
 * replaced by that resource's canonical URI, so a token for another API of the same issuer, or
 * for another resource of this proxy, is refused as `audience_mismatch` (401) before any policy.
 * A resource that requires DPoP accepts only DPoP-bound tokens and checks their proofs itself
 * (an issuer's `sender_constrained: accept` does not apply: no proxy in front checks them), with
 * the proof algorithms it advertises.
 */
export async function startResourceDeciders(
  config: MandateConfig,
  mcp: McpConfig,
  core: DecisionCore<AuditLog>,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Map<McpResourceConfig, ResourcePipeline>> {
  const deciders = new Map<McpResourceConfig, ResourcePipeline>();
  for (const resource of mcp.resources) {
    const verifier = createTokenVerifier({
      issuers: config.issuers.map((issuer) => ({
        ...issuer,
        audiences: [resource.uri],
        ...(resource.dpopRequired ? { senderConstrained: 'deny' as const } : {}),
      })),
      token: config.token,
      requireDpopBinding: resource.dpopRequired,
    });
    await lifecycle.start({
      name: `keys.mcp:${resource.uri}`,
      start: () => verifier.start(),
      stop: () => verifier.stop(),
    });
    const decider = createDecider({
      verifier,
      policy: core.policy,
      audit: core.audit,
      tenancy: config.tenancy,
      metrics: core.metrics,
      maxNestingDepth: config.limits.maxNestingDepth,
      revocation: core.revocation.store,
      onError: (err) => logger.error({ err }, 'decision failed with an internal error'),
      ...(resource.dpopAlgorithms !== undefined
        ? { dpop: createDpopVerifier({ algorithms: resource.dpopAlgorithms }) }
        : {}),
    });
    deciders.set(resource, { decider, verifier });
  }
  return deciders;
}
