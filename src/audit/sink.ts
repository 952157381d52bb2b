// The audit sink interface plus the no-op sink, so callers never null-check.

import type { DecisionFacts } from './decision-record.js';
import type { AuditRecord } from './record.js';

export interface AuditSink {
  /** Enqueue a record. Never blocks on I/O and never throws. */
  write(record: AuditRecord): void;
  /**
   * Enqueue the record of a decision, made from these facts by the sink (see decision-record.ts):
   * a sink that keeps nothing never builds it. Never blocks on I/O.
   */
  writeDecision(facts: DecisionFacts): void;
  /** Write everything queued so far. */
  flush(): Promise<void>;
  /** Flush and release the destination. */
  close(): Promise<void>;
  /**
   * False while a fail-closed sink cannot take another record (its spool is full or unwritable):
   * decide() then denies with `audit_unavailable` instead of allowing. O(1). Absent: always true.
   */
  admits?(): boolean;
  /**
   * With `audit.durability: answer_after_write`, a promise that resolves once every record written
   * so far is on disk (rejects when it cannot be): decide() answers after it. Absent, or undefined
   * (`best_effort`): answers do not wait.
   */
  committed?(): Promise<void> | undefined;
}

export const noopAuditSink: AuditSink = {
  write() {},
  writeDecision() {},
  flush: async () => {},
  close: async () => {},
};
