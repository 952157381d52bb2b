// The compatibility policy the pipeline can evaluate instead of base AND tenant (OPA-Envoy-style entrypoints).
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { PolicyReason } from './types.js';

/** What one evaluation of the compatibility policy decided. */
export interface CompatResult {
  readonly allow: boolean;
  /** Empty on allow; on deny at least one reason saying why (policy said no, or gave no usable answer). */
  readonly reasons: readonly PolicyReason[];
  /** The entrypoint's value as the policy produced it (boolean or object); undefined when it produced none. */
  readonly result: unknown;
  /** Revision (content hash) of the compatibility unit. */
  readonly revision: string;
  /** Evaluation time in nanoseconds. */
  readonly evalNs: number;
}

/** A compiled compatibility unit with its own entrypoint and result convention. */
export interface CompatPolicy {
  /** Synchronous and never throwing: a policy error or a missing unit is a deny with a reason. */
  evaluate(input: unknown): CompatResult;
  /** The loaded revision, undefined before start(). */
  revision(): string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ComponentStatus;
}
