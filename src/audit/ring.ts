// A bounded in-memory ring of recent (masked) records, numbered so a follower can ask for what came after.
import { randomUUID } from 'node:crypto';
import { matchesQuery, recordTimeMs, type AuditQuery } from './query.js';
import type { AuditRecord } from './record.js';
import { fullRecord } from './record-template.js';

export interface RingAnswer {
  readonly records: readonly AuditRecord[];
  /** Pass as `after` to get only newer records; the ring's head when nothing matched. */
  readonly nextAfter: number;
  /** True when `limit` cut the answer short (ask again with `after`). */
  readonly more: boolean;
  /** False when `since` predates the oldest record still held, so older matches may have been evicted. */
  readonly complete: boolean;
}

export interface AuditRing {
  /** Random per process: a follower seeing it change knows the sequence restarted. */
  readonly id: string;
  readonly capacity: number;
  push(record: AuditRecord): void;
  query(q: AuditQuery): RingAnswer;
  /** Sequence number of the newest record (0 when empty). */
  head(): number;
}

export function createAuditRing(capacity: number): AuditRing {
  const slots: (AuditRecord | undefined)[] = new Array<AuditRecord | undefined>(capacity);
  let head = 0; // sequence number of the newest record; record n lives in slots[(n - 1) % capacity]
  const at = (seq: number) => slots[(seq - 1) % capacity] as AuditRecord;
  const oldest = () => Math.max(1, head - capacity + 1);

  return {
    id: randomUUID(),
    capacity,
    push(record) {
      if (capacity === 0) return;
      head++;
      slots[(head - 1) % capacity] = record;
    },
    head: () => head,
    query(q) {
      if (capacity === 0 || head === 0) {
        return { records: [], nextAfter: head, more: false, complete: head === 0 };
      }
      const first = oldest();
      const evicted = first > 1;
      const complete =
        q.after !== undefined
          ? q.after + 1 >= first || !evicted
          : q.since !== undefined
            ? !evicted || recordTimeMs(at(first)) <= q.since
            : !evicted;
      const out: AuditRecord[] = [];
      if (q.after !== undefined || q.since !== undefined) {
        // Forwards from the cursor: the oldest matches first, so paging never skips a record.
        const start = q.after !== undefined ? Math.max(first, q.after + 1) : first;
        for (let seq = start; seq <= head; seq++) {
          const record = at(seq);
          if (!matchesQuery(q, record)) continue;
          if (out.length === q.limit)
            return { records: out, nextAfter: seq - 1, more: true, complete };
          out.push(fullRecord(record));
        }
        return { records: out, nextAfter: head, more: false, complete };
      }
      // No cursor: the newest `limit` matches, returned oldest first (like `tail`).
      let more = false;
      for (let seq = head; seq >= first; seq--) {
        const record = at(seq);
        if (!matchesQuery(q, record)) continue;
        if (out.length === q.limit) {
          more = true;
          break;
        }
        out.push(fullRecord(record));
      }
      out.reverse();
      return { records: out, nextAfter: head, more, complete };
    },
  };
}
