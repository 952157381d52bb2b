// The revocation snapshot on local disk: written whole to a temporary file, fsynced and renamed, so a crash never leaves half a file.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeEntry } from './codec.js';
import { RevocationStoreError } from './errors.js';
import type { RevocationEntry } from './types.js';

const FORMAT_VERSION = 1;
/** Characters serialised between two writes (about a thousand entries). */
const CHUNK_CHARS = 256 * 1024;

export interface Snapshot {
  readonly entries: readonly RevocationEntry[];
  /** The Redis epoch the entries were synced from (Redis store only). */
  readonly epoch?: string;
}

export interface SnapshotFile {
  readonly path: string;
  /** The stored snapshot; undefined when there is no file yet. Rejects when the file is unreadable or not a snapshot. */
  load(): Promise<(Snapshot & { readonly skipped: number }) | undefined>;
  /**
   * Writes the state `current()` returns when the write starts. Calls made while a write is
   * running share the one write that follows it, so a burst of changes costs two writes, not one each.
   */
  save(current: () => Snapshot): Promise<void>;
}

/** fsyncs a directory, so names created or renamed in it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function createSnapshotFile(path: string): SnapshotFile {
  let latest: () => Snapshot = () => ({ entries: [] });
  let tail: Promise<void> = Promise.resolve();
  let pending: Promise<void> | undefined;

  async function write(snapshot: Snapshot): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      const epoch =
        snapshot.epoch !== undefined ? `"epoch":${JSON.stringify(snapshot.epoch)},` : '';
      let chunk = `{"version":${FORMAT_VERSION},${epoch}"entries":[`;
      const { entries } = snapshot;
      for (let i = 0; i < entries.length; i++) {
        chunk += `${i > 0 ? ',' : ''}${JSON.stringify(entries[i])}`;
        // Serialised a slice at a time, each write yielding: 100,000 entries must not stall decisions.
        if (chunk.length >= CHUNK_CHARS) {
          await handle.write(chunk);
          chunk = '';
        }
      }
      await handle.write(`${chunk}]}`);
      // The rename must not become visible before the data it points to is on disk.
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    // The rename itself is durable only once the directory is.
    await syncDirectory(dirname(path));
  }

  return {
    path,

    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new RevocationStoreError(
          'snapshot_unreadable',
          `revocation.path: cannot read ${path}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        doc = undefined;
      }
      const d = doc as { version?: unknown; epoch?: unknown; entries?: unknown } | undefined;
      // Starting with an empty set because the file is damaged would silently un-revoke: refuse instead.
      if (typeof d !== 'object' || d === null || d.version !== FORMAT_VERSION) {
        throw new RevocationStoreError(
          'snapshot_unreadable',
          `revocation.path: ${path} is not a mandate revocation snapshot (version ${FORMAT_VERSION}); fix or remove it`,
        );
      }
      if (!Array.isArray(d.entries)) {
        throw new RevocationStoreError(
          'snapshot_unreadable',
          `revocation.path: ${path}: "entries" must be a list`,
        );
      }
      const entries: RevocationEntry[] = [];
      let skipped = 0;
      for (const raw of d.entries) {
        const entry = decodeEntry(raw);
        if (entry) entries.push(entry);
        else skipped++;
      }
      return {
        entries,
        skipped,
        ...(typeof d.epoch === 'string' ? { epoch: d.epoch } : {}),
      };
    },

    save(current) {
      latest = current;
      if (pending) return pending;
      const next = tail
        .catch(() => {})
        .then(() => {
          pending = undefined;
          return write(latest());
        });
      pending = next;
      tail = next;
      return next;
    },
  };
}
