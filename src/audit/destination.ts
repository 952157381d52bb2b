// The contract between the audit log and each configured destination (a `sinks` entry: stdout, rotating file, http with spool).
import type { AuditFormat } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { AuditRecord } from './record.js';

/** What happened to records at a destination, for `mandate_audit_records_total{sink,result}`. */
export type AuditRecordResult = 'written' | 'delivered' | 'dropped';

export interface AuditDestinationEvents {
  /** `n` records reached `result` at this destination. */
  readonly onRecords?: (result: AuditRecordResult, n: number) => void;
  /** A failure of the destination; audit failures never fail a request. Never carries record content. */
  readonly onError?: (err: Error, what: string) => void;
}

export interface AuditDestination {
  /** Unique among destinations (the config's `sinks[].name`); the `sink` metric label. */
  readonly name: string;
  readonly driver: 'stdout' | 'file' | 'http';
  readonly format: AuditFormat;
  /**
   * One masked record and its rendered line (ending in `\n`), inside one drain of the queue.
   * `ascii`: the line is known to be all ASCII (its UTF-8 is its Latin-1); false when unknown.
   */
  add(record: AuditRecord, line: string, ascii?: boolean): void;
  /** End of a drain: hand what `add` collected to the I/O layer without waiting for it. */
  commit(): void;
  /** False when this destination is fail-closed and cannot take another record. */
  admits(): boolean;
  start(): Promise<void>;
  /** Everything committed so far is written (and, for http, spooled). */
  flush(): Promise<void>;
  /**
   * Everything committed so far is written and fsynced where the destination is a file (a stdout
   * pipe is only written). Rejects when it could not be written.
   */
  sync(): Promise<void>;
  /** Flush, deliver what can be delivered until `deadline` (epoch ms), release resources. */
  close(deadline: number): Promise<void>;
  status(): ComponentStatus;
}
