// The spool's delivery cursor file: read at open, replaced atomically after every delivered batch.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const CURSOR = 'cursor.json';

/** Where delivery stands: the oldest undelivered segment and the offset in it. */
export interface Cursor {
  readonly seq: number;
  readonly offset: number;
}

/** The cursor persisted in `dir`; the start of the oldest segment when there is none. */
export async function readCursor(dir: string): Promise<Cursor> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, CURSOR), 'utf8')) as unknown;
    const c = parsed as { seq?: unknown; offset?: unknown };
    if (typeof c.seq === 'number' && typeof c.offset === 'number') {
      return { seq: c.seq, offset: c.offset };
    }
  } catch {
    // No cursor (first start) or an unreadable one: deliver from the oldest segment.
  }
  return { seq: 0, offset: 0 };
}

/** Persists the cursor `current()` reports, one write at a time; writes asked for meanwhile coalesce. */
export interface CursorFile {
  /** Resolves once the file holds the cursor as it was when this write ran. */
  persist(): Promise<void>;
}

/** The cursor file of `dir`; a failed write is reported, never thrown. */
export function createCursorFile(
  dir: string,
  current: () => Cursor,
  onError: (err: Error) => void,
): CursorFile {
  let cursorWrite: Promise<void> = Promise.resolve();
  let cursorDirty = false;
  return {
    persist() {
      if (cursorDirty) return cursorWrite;
      cursorDirty = true;
      cursorWrite = cursorWrite.then(async () => {
        cursorDirty = false;
        const cursor = current();
        const path = join(dir, CURSOR);
        try {
          await writeFile(`${path}.tmp`, JSON.stringify(cursor), { mode: 0o600 });
          await rename(`${path}.tmp`, path);
        } catch (err) {
          onError(err as Error);
        }
      });
      return cursorWrite;
    },
  };
}
