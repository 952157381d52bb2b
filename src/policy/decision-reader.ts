// Turns the result set a policy's Wasm returns into allow + reasons, treating anything unexpected as a deny.
import type { PolicyReason } from './types.js';

/** What one layer decided, before timing and revision are attached. */
export interface LayerVerdict {
  readonly allow: boolean;
  readonly reasons: readonly PolicyReason[];
}

/** The reason for a module that answered nothing usable: undefined, or not a decision object. */
export const NO_DECISION: LayerVerdict = Object.freeze({
  allow: false,
  reasons: Object.freeze([
    Object.freeze({ code: 'policy_denied', message: 'policy produced no decision' }),
  ]),
});

function readReason(raw: unknown): PolicyReason | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { code, message, scopes } = raw as { code?: unknown; message?: unknown; scopes?: unknown };
  if (typeof code !== 'string' || code === '') return undefined;
  const text = typeof message === 'string' ? message : code;
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) {
    return { code, message: text };
  }
  return { code, message: text, scopes: scopes as string[] };
}

/**
 * Reads `[{ "result": { "allow": bool, "reasons": [...] } }]`. Only `allow === true` allows; a deny
 * always carries at least one reason (`policy_denied` naming the layer when the policy gave none).
 */
export function readVerdict(resultSet: unknown, layer: 'base' | 'tenant'): LayerVerdict {
  if (!Array.isArray(resultSet) || resultSet.length !== 1) return NO_DECISION;
  const first: unknown = resultSet[0];
  if (typeof first !== 'object' || first === null) return NO_DECISION;
  const decision = (first as { result?: unknown }).result;
  if (typeof decision !== 'object' || decision === null) return NO_DECISION;
  const { allow, reasons: rawReasons } = decision as { allow?: unknown; reasons?: unknown };
  if (typeof allow !== 'boolean') return NO_DECISION;

  const reasons: PolicyReason[] = [];
  if (Array.isArray(rawReasons)) {
    for (const raw of rawReasons) {
      const reason = readReason(raw);
      if (reason !== undefined) reasons.push(reason);
    }
  }
  if (!allow && reasons.length === 0) {
    reasons.push({ code: 'policy_denied', message: `denied by the ${layer} policy` });
  }
  return { allow, reasons };
}
