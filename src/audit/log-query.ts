// Answers an audit query from the in-memory ring or the mandate-format file sink, whichever covers it.
import type { AuditConfig } from '../config/types.js';
import { rotatedFiles, scanAuditFiles } from './file-scan.js';
import type { AuditQuery } from './query.js';
import type { AuditRecord } from './record.js';
import type { AuditRing } from './ring.js';

/** Where a query is answered from: the in-memory ring, the file sink, or the ring unless it no longer covers `since`. */
export type AuditQuerySource = 'auto' | 'ring' | 'file';

export interface AuditQueryAnswer {
  readonly source: 'ring' | 'file';
  readonly records: readonly AuditRecord[];
  readonly more: boolean;
  /** Ring answers only: pass as `after` for what came later, with the same `ringId`. */
  readonly nextAfter?: number;
  readonly ringId?: string;
  /** False when older matches may have left the ring (and no file sink could answer). */
  readonly complete: boolean;
}

export class AuditSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditSourceError';
  }
}

/** Answers queries; throws `AuditSourceError` when `file` is asked for and no mandate-format file sink exists. */
export type AuditLogQuery = (q: AuditQuery, source?: AuditQuerySource) => Promise<AuditQueryAnswer>;

/**
 * Queries over `ring` and the first mandate-format file sink of `config`; `flush` puts what is
 * still queued or buffered on disk before the file answers.
 */
export function createLogQuery(
  config: AuditConfig,
  ring: AuditRing,
  flush: () => Promise<void>,
): AuditLogQuery {
  const fileSink = config.sinks.find(
    (s): s is Extract<typeof s, { driver: 'file' }> =>
      s.driver === 'file' && s.format === 'mandate',
  );
  return async (q, source = 'auto') => {
    if (source === 'file' || (source === 'auto' && fileSink !== undefined)) {
      const answer = source === 'file' ? undefined : ring.query(q);
      if (answer && (answer.complete || q.after !== undefined)) {
        return { source: 'ring', ringId: ring.id, ...answer };
      }
      if (!fileSink) {
        throw new AuditSourceError('no file sink in the mandate format is configured');
      }
      if (q.after !== undefined)
        throw new AuditSourceError('after is a ring cursor; use since with the file');
      // Records still queued or buffered must be on disk before the file can answer for them.
      await flush();
      const files = rotatedFiles(fileSink.path, fileSink.maxFiles);
      const found = await scanAuditFiles(files, q);
      return { source: 'file', records: found.records, more: found.more, complete: true };
    }
    const answer = ring.query(q);
    return { source: 'ring', ringId: ring.id, ...answer };
  };
}
