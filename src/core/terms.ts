// What an adapter settles for its own requests and hands the pipeline beside the request, never in it.
import type { Reason } from './reasons.js';

/**
 * Shadow mode: the pipeline decides and audits as usual (the record says `dry_run: true`), the
 * decision says `dryRun`, and the adapter then lets the request through whatever the decision.
 */
export interface DryRunRule {
  /** Every request decided under this rule is shadowed. */
  readonly all: boolean;
  /**
   * Requests whose token verified with one of these tenants are shadowed (never on an unverified
   * claim, so a forged token cannot pick a shadowed tenant).
   */
  readonly tenants: ReadonlySet<string>;
}

/** Terms for {@link Decider.decideWith}; each absent member leaves that step as decide() runs it. */
export interface DecideTerms {
  /**
   * A denial the adapter already knows of (an unmapped route, a body that does not parse). The
   * pipeline still verifies the token first (a missing or bad token is the answer then), checks
   * revocation and the tenant, and audits, but never allows.
   */
  readonly refusal?: Reason;
  /**
   * For adapters that speak another authorizer's policy format (OPA-Envoy): the compatibility
   * policy is evaluated over this document, plus the pipeline's verified `token`, `subject`,
   * `tenant` and `action`, instead of base AND tenant. Bounded in nesting like the request's own
   * documents (named `input` then).
   */
  readonly compatDocument?: Readonly<Record<string, unknown>>;
  readonly dryRun?: DryRunRule;
}

/** Whether a decision under `rule` is shadowed, given the verified token's tenant (undefined when it did not verify). */
export function isDryRun(
  rule: DryRunRule | undefined,
  verifiedTenant: string | undefined,
): boolean {
  if (rule === undefined) return false;
  if (rule.all) return true;
  return verifiedTenant !== undefined && rule.tenants.has(verifiedTenant);
}
