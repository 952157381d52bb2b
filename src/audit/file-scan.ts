// Answers an audit query from a file sink's files (rotated ones first), for history the ring no longer holds.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { matchesQuery, type AuditQuery } from './query.js';
import type { AuditRecord } from './record.js';

export interface FileAnswer {
  readonly records: readonly AuditRecord[];
  readonly more: boolean;
}

/** The sink's files, oldest first: `path.N` … `path.1`, then `path`. */
export function rotatedFiles(path: string, maxFiles: number): string[] {
  const files: string[] = [];
  for (let i = maxFiles; i >= 1; i--) if (existsSync(`${path}.${i}`)) files.push(`${path}.${i}`);
  if (existsSync(path)) files.push(path);
  return files;
}

/**
 * Streams the files line by line (never whole into memory). With `since`, the first `limit`
 * matches from then on; without, the newest `limit` matches. Lines that do not parse (a torn
 * last line) are skipped.
 */
export async function scanAuditFiles(files: readonly string[], q: AuditQuery): Promise<FileAnswer> {
  const forwards = q.since !== undefined;
  const out: AuditRecord[] = [];
  let more = false;
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (line.length === 0) continue;
        let record: AuditRecord;
        try {
          record = JSON.parse(line) as AuditRecord;
        } catch {
          continue;
        }
        if (!matchesQuery(q, record)) continue;
        if (forwards) {
          if (out.length === q.limit) {
            more = true;
            return { records: out, more };
          }
          out.push(record);
        } else {
          out.push(record);
          // Trim in chunks: shifting one at a time would be quadratic over a long file.
          if (out.length >= 2 * q.limit) {
            out.splice(0, out.length - q.limit);
            more = true;
          }
        }
      }
    } catch (err) {
      // A file rotated away between listing and reading is not an error for a history query.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      lines.close();
    }
  }
  if (!forwards && out.length > q.limit) {
    out.splice(0, out.length - q.limit);
    more = true;
  }
  return { records: out, more };
}
