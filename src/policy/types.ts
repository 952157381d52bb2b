// The policy engine interface the pipeline depends on: base AND tenant, each a compiled Wasm module.
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { PolicyCacheKey } from './decision-cache.js';

export type { PolicyCacheKey } from './decision-cache.js';

/** One reason emitted by a Rego policy: `{ code, message }`. Codes outside the closed set become `policy_denied`. */
export interface PolicyReason {
  readonly code: string;
  readonly message: string;
  /** With `insufficient_scope`: every scope the request needs, when the policy says (for step-up challenges). */
  readonly scopes?: readonly string[];
}

/** The result of evaluating one policy unit (base or one tenant). */
export interface LayerResult {
  readonly allow: boolean;
  readonly reasons: readonly PolicyReason[];
  /** Revision of the unit that decided (content hash of its sources). */
  readonly revision: string;
  /** Evaluation time of this layer in nanoseconds. */
  readonly evalNs: number;
  /** The evaluation threw (a Rego runtime error): denied, and never cached. */
  readonly failed?: true;
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
  /** Served from the decision cache: the layers' results are those of an earlier, equal input. */
  readonly cached?: true;
}

/** One unit as the admin API and `/ready` show it: wire names, snake_case like every JSON mandate answers. */
export interface PolicyUnitStatus {
  /** `base` or `tenant:<id>`. */
  readonly unit: string;
  /** OK: serving; WARN: serving an older version because the newest failed; ERROR: denying (failed, or removed). */
  readonly state: 'OK' | 'WARN' | 'ERROR';
  /** Where its policy comes from. */
  readonly origin: 'dir' | 'bundle';
  /** Active revision: a content hash for directory units, the manifest revision for bundles. */
  readonly revision?: string;
  /** The module instance serving it (`pack:<n>`, `solo:<unit>`, `bundle:<hash>`). */
  readonly module?: string;
  /** When the active version was activated (RFC 3339). */
  readonly activated_at?: string;
  /** Removed from the policy directory while running (and denied per `on_tenant_removed`). */
  readonly removed?: boolean;
  /** The last failure to load a newer version (or the first, when none is active). */
  readonly error?: {
    readonly code: string;
    readonly message: string;
    readonly at: string;
    readonly problems?: readonly { file: string; line: number; kind: string; text: string }[];
  };
  /** For bundles: where from, and how the last downloads went. */
  readonly bundle?: Readonly<Record<string, unknown>>;
  /** Evaluation errors (Rego runtime errors) since it was loaded. */
  readonly eval_errors?: number;
}

export interface PolicyEngine {
  /**
   * Evaluate base and (when present) the tenant's policy over `input`.
   * Synchronous: the Wasm modules are prepared ahead of time. Throws only on engine bugs; before
   * start() (or after stop()) it denies with `internal_error`. With `cacheKey` (which must determine
   * `input` entirely), an outcome for an equal input under the same units may be served from the
   * decision cache, unless a unit reads the clock.
   */
  evaluate(tenant: string | undefined, input: unknown, cacheKey?: PolicyCacheKey): PolicyOutcome;
  /** Loaded revisions: base and per tenant. */
  revisions(): { base?: string; tenants: Record<string, string> };
  /** Every unit's state, for the admin API. */
  units(): readonly PolicyUnitStatus[];
  /**
   * Re-reads units from the policy directory (`base`, tenant ids; none: all) and swaps in those that
   * changed, one at a time. Watch mode calls it; a failure keeps the previous version and is reported
   * in status, never thrown.
   */
  reloadFromDir(units?: {
    readonly base?: boolean;
    readonly tenants?: readonly string[];
  }): Promise<void>;
  /**
   * Calls `listener` after any change of the units in force (a reload, a bundle, a failure, a
   * removal); returns the function that unsubscribes it. Listeners run synchronously, inside the load.
   */
  onChange(listener: () => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ComponentStatus;
}
