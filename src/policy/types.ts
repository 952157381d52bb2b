// The policy engine interface the pipeline depends on: base AND tenant, each a compiled Wasm module.
import type { ComponentStatus } from '../lib/lifecycle.js';

/** One reason emitted by a Rego policy: `{ code, message }`. Codes outside the closed set become `policy_denied`. */
export interface PolicyReason {
  readonly code: string;
  readonly message: string;
}

/** The result of evaluating one policy unit (base or one tenant). */
export interface LayerResult {
  readonly allow: boolean;
  readonly reasons: readonly PolicyReason[];
  /** Revision of the unit that decided (content hash of its sources). */
  readonly revision: string;
  /** Evaluation time of this layer in nanoseconds. */
  readonly evalNs: number;
}

/** The combined outcome: allow = base.allow && (tenant absent || tenant.allow). */
export interface PolicyOutcome {
  readonly allow: boolean;
  /** Which layer decided a deny; 'base' for an allow where both agreed. */
  readonly decidedBy: 'base' | 'tenant';
  readonly reasons: readonly PolicyReason[];
  readonly base: LayerResult;
  /**
   * Absent when the tenant has no policy of its own, or when base denied (base is evaluated first
   * and a deny short-circuits). A tenant whose policy failed to load is present, as a deny.
   */
  readonly tenant?: LayerResult;
}

export interface PolicyEngine {
  /**
   * Evaluate base and (when present) the tenant's policy over `input`.
   * Synchronous: the Wasm modules are prepared ahead of time. Throws only on engine bugs; before
   * start() (or after stop()) it denies with `internal_error`.
   */
  evaluate(tenant: string | undefined, input: unknown): PolicyOutcome;
  /** Loaded revisions: base and per tenant. */
  revisions(): { base?: string; tenants: Record<string, string> };
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ComponentStatus;
}
