// The durable local copy of the revocations: a snapshot file plus an append-only journal of changes, fsynced before a change is acknowledged.
import { constants } from 'node:fs';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeChange, type ChangeMessage } from './codec.js';
import { RevocationStoreError } from './errors.js';
import { syncDirectory, type Snapshot, type SnapshotFile } from './snapshot-file.js';
import type { RevocationEntry } from './types.js';

/** One journal line: an entry added or deleted, or the Redis epoch the state now reflects. */
export type LogRecord = ChangeMessage | { readonly op: 'epoch'; readonly epoch: string };

export interface RevocationLogOptions {
  readonly snapshot: SnapshotFile;
  /**
   * The journal is folded into the snapshot once it holds more records than this or than the last
   * snapshot held entries, whichever is larger: compaction then costs O(1) per change, amortised.
   */
  readonly compactAfterRecords?: number;
  /** Clock, epoch ms: a compaction leaves expired entries out. */
  readonly now?: () => number;
  /** Told when a compaction fails (the journal keeps growing and stays correct). */
  readonly onCompactError?: (err: Error) => void;
}

export interface LoadedLog extends Snapshot {
  /** Malformed entries skipped in the snapshot and the journal. */
  readonly skipped: number;
  /** Journal records replayed on top of the snapshot. */
  readonly replayed: number;
  /** Bytes of an unfinished last journal record, cut off (a crash during its write: never acknowledged). */
  readonly truncatedBytes: number;
}

export interface RevocationLog {
  readonly path: string;
  readonly journalPath: string;
  /** The stored state: snapshot plus journal. Rejects (snapshot_unreadable) when either is damaged. */
  load(): Promise<LoadedLog>;
  /**
   * Appends records and resolves once they are on disk (fsynced). Records appended while a write
   * runs share the next write and fsync (group commit). Rejects when they could not be written.
   */
  append(records: readonly LogRecord[]): Promise<void>;
  /** Waits for queued appends and closes the journal. */
  close(): Promise<void>;
}

const DEFAULT_COMPACT_AFTER = 1000;

interface Waiter {
  readonly records: readonly LogRecord[];
  resolve(): void;
  reject(err: Error): void;
}

function unreadable(path: string, why: string): RevocationStoreError {
  return new RevocationStoreError(
    'snapshot_unreadable',
    `revocation.path: ${path} ${why}; fix or remove it`,
  );
}

function parseRecord(line: string): LogRecord | 'malformed' | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const p = parsed as { op?: unknown; epoch?: unknown } | null;
  if (p !== null && typeof p === 'object' && p.op === 'epoch' && typeof p.epoch === 'string') {
    return { op: 'epoch', epoch: p.epoch };
  }
  return decodeChange(line) ?? 'malformed';
}

/** Opens (creating) the journal file; returns it with its current length. */
async function openJournal(journalPath: string): Promise<{ h: FileHandle; size: number }> {
  await mkdir(dirname(journalPath), { recursive: true });
  const h = await open(journalPath, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    const size = (await h.stat()).size;
    // A new file's name must be on disk too, or a crash loses the whole journal.
    await syncDirectory(dirname(journalPath));
    return { h, size };
  } catch (err) {
    await h.close();
    throw err;
  }
}

async function writeAt(h: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await h.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

/** The journal's bytes; undefined when there is no journal yet. */
async function readJournal(journalPath: string): Promise<Buffer | undefined> {
  try {
    return await readFile(journalPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(journalPath, `cannot be read (${(err as Error).message})`);
  }
}

interface ParsedJournal {
  readonly records: LogRecord[];
  /** Malformed (but complete) records skipped. */
  readonly skipped: number;
  /** End of the last complete record: what follows is an unfinished last write. */
  readonly goodEnd: number;
}

/** Splits the journal into records; throws snapshot_unreadable when damage is followed by good records. */
function parseJournal(text: Buffer, journalPath: string): ParsedJournal {
  const records: LogRecord[] = [];
  let skipped = 0;
  let goodEnd = 0;
  let offset = 0;
  let damagedAt: number | undefined;
  while (offset < text.length) {
    const nl = text.indexOf(0x0a, offset);
    const end = nl < 0 ? text.length : nl + 1;
    const record = nl < 0 ? undefined : parseRecord(text.toString('utf8', offset, nl));
    if (record === undefined) {
      damagedAt ??= offset;
    } else {
      // A good record after a damaged one: the damage is not an unfinished last write.
      if (damagedAt !== undefined) {
        throw unreadable(journalPath, `is damaged at byte ${damagedAt}`);
      }
      if (record === 'malformed') skipped++;
      else records.push(record);
      goodEnd = end;
    }
    offset = end;
  }
  return { records, skipped, goodEnd };
}

/** One journal write: every record of the batch, one JSON line each. */
function encodeBatch(batch: readonly Waiter[]): Buffer {
  let text = '';
  for (const w of batch) for (const r of w.records) text += `${JSON.stringify(r)}\n`;
  return Buffer.from(text, 'utf8');
}

/** Opens the log of a snapshot file; nothing is read or written before load() or append(). */
export function createRevocationLog(options: RevocationLogOptions): RevocationLog {
  const { snapshot } = options;
  const now = options.now ?? Date.now;
  const minCompact = options.compactAfterRecords ?? DEFAULT_COMPACT_AFTER;
  const journalPath = `${snapshot.path}.journal`;
  /** The durable state, kept apart from the serving index so a compaction writes exactly what was acknowledged. */
  const entries = new Map<string, RevocationEntry>();
  let epoch: string | undefined;
  let handle: FileHandle | undefined;
  let size = 0;
  let records = 0;
  let compactAfter = minCompact;
  let waiting: Waiter[] = [];
  let draining: Promise<void> | undefined;

  function applyRecord(record: LogRecord): void {
    if (record.op === 'add') {
      // Re-adding moves the entry last, as the index orders a re-added entry.
      entries.delete(record.entry.id);
      entries.set(record.entry.id, record.entry);
    } else if (record.op === 'del') entries.delete(record.id);
    else epoch = record.epoch;
  }

  async function journal(): Promise<FileHandle> {
    if (handle) return handle;
    const opened = await openJournal(journalPath);
    size = opened.size;
    handle = opened.h;
    return opened.h;
  }

  async function compact(h: FileHandle): Promise<void> {
    const nowMs = now();
    const live = [...entries.values()].filter(
      (e) => e.expiresAtMs === undefined || e.expiresAtMs > nowMs,
    );
    for (const e of entries.values()) {
      if (e.expiresAtMs !== undefined && e.expiresAtMs <= nowMs) entries.delete(e.id);
    }
    // The snapshot (temp file, fsync, rename, directory fsync) holds every journaled change before the journal is emptied.
    await snapshot.save(() => ({ entries: live, ...(epoch !== undefined ? { epoch } : {}) }));
    await h.truncate(0);
    await h.sync();
    size = 0;
    records = 0;
    compactAfter = Math.max(minCompact, live.length);
  }

  function kick(): void {
    if (draining) return;
    draining = drain().finally(() => {
      draining = undefined;
      // An append made between the loop's last check and here would otherwise wait forever.
      if (waiting.length > 0) kick();
    });
  }

  async function drain(): Promise<void> {
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        const h = await journal();
        const buf = encodeBatch(batch);
        // Written at the known end, not appended: after a failed write the next one overwrites its remains.
        await writeAt(h, buf, size);
        await h.datasync();
        size += buf.length;
        // Only what is on disk enters the state a compaction writes.
        for (const w of batch) {
          for (const r of w.records) applyRecord(r);
          records += w.records.length;
        }
      } catch (err) {
        for (const w of batch) w.reject(err as Error);
        continue;
      }
      for (const w of batch) w.resolve();
      if (records > compactAfter && handle) {
        try {
          await compact(handle);
        } catch (err) {
          // Every change is still in the journal: only its length suffers. Retried after the next bound.
          compactAfter = records + minCompact;
          options.onCompactError?.(err as Error);
        }
      }
    }
  }

  function loaded(skipped: number, replayed: number, truncatedBytes: number): LoadedLog {
    return {
      entries: [...entries.values()],
      skipped,
      replayed,
      truncatedBytes,
      ...(epoch !== undefined ? { epoch } : {}),
    };
  }

  return {
    path: snapshot.path,
    journalPath,

    async load() {
      entries.clear();
      epoch = undefined;
      const base = await snapshot.load();
      let skipped = base?.skipped ?? 0;
      for (const e of base?.entries ?? []) entries.set(e.id, e);
      epoch = base?.epoch;
      compactAfter = Math.max(minCompact, entries.size);

      const text = await readJournal(journalPath);
      if (text === undefined) return loaded(skipped, 0, 0);
      const { records: parsed, skipped: malformed, goodEnd } = parseJournal(text, journalPath);
      skipped += malformed;
      for (const record of parsed) applyRecord(record);
      const truncatedBytes = text.length - goodEnd;
      if (truncatedBytes > 0) {
        // Cut the unfinished record off now, so the next append does not continue a broken line.
        const h = await journal();
        await h.truncate(goodEnd);
        await h.sync();
        size = goodEnd;
      }
      records = parsed.length;
      return loaded(skipped, parsed.length, truncatedBytes);
    },

    append(list) {
      if (list.length === 0) return Promise.resolve();
      const done = new Promise<void>((resolve, reject) => {
        waiting.push({ records: list, resolve, reject });
      });
      kick();
      return done;
    },

    async close() {
      while (draining) await draining;
      const h = handle;
      handle = undefined;
      await h?.close();
    },
  };
}
