// The descriptor a line destination writes to: stdout as given, or a file opened for appending, rotated by size and fdatasynced.
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
} from 'node:fs';
import { dirname } from 'node:path';

export interface LineFileOptions {
  /** An open file descriptor (1: stdout; never closed here) or a file path (its folder is created). */
  readonly destination: number | string;
  /** Rotate a file destination at this many bytes. */
  readonly maxBytes?: number;
  /** Rotated files kept (`path.1` newest … `path.N` oldest). */
  readonly maxFiles?: number;
}

/** The descriptor, its size and whether it holds writes not yet fdatasynced. */
export interface LineFile {
  /** True for a file path, false for a descriptor given (stdout). */
  readonly isFile: boolean;
  /** The open descriptor, or -1. */
  fd(): number;
  /** Opens (creating its folder) the file for appending; true when a descriptor is ready. */
  open(): boolean;
  /** `bytes` were written: they need a sync, and may trigger a rotation. */
  wrote(bytes: number): void;
  /** Writes to the file so far are durable (nothing to do for a descriptor given). */
  sync(): Promise<void>;
  /** Closes a file (a descriptor given is never closed here). */
  close(): void;
}

/** The descriptor of a `stdout` or `file` sink; failures are reported to `fail`, never thrown. */
export function createLineFile(
  options: LineFileOptions,
  fail: (err: unknown, what: string) => void,
): LineFile {
  const file = typeof options.destination === 'string' ? options.destination : undefined;
  let fd = -1;
  let size = 0;
  /** The file was written since the last sync(), or rotated away unsynced. */
  let unsynced = false;

  const open = (): boolean => {
    if (fd >= 0) return true;
    if (!file) {
      fd = options.destination as number;
      return true;
    }
    try {
      mkdirSync(dirname(file), { recursive: true });
      fd = openSync(file, 'a');
      size = statSync(file).size;
      return true;
    } catch (err) {
      fail(err, 'open');
      return false;
    }
  };

  /** Renames path → path.1 → … → path.N (the oldest falls off) and starts path again, empty. */
  const rotate = () => {
    if (!file || fd < 0) return;
    const keep = options.maxFiles ?? 5;
    try {
      // What the old file holds must be durable before sync() only looks at the new one.
      if (unsynced) fdatasyncSync(fd);
      closeSync(fd);
    } catch (err) {
      fail(err, 'rotate');
    }
    fd = -1;
    try {
      for (let i = keep - 1; i >= 1; i--) {
        if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      }
      if (existsSync(file)) renameSync(file, `${file}.1`);
    } catch (err) {
      fail(err, 'rotate');
    }
    // Reopened now, or by the next commit if this fails.
    open();
  };

  return {
    isFile: file !== undefined,
    fd: () => fd,
    open,
    wrote(bytes) {
      unsynced = true;
      if (file && options.maxBytes !== undefined) {
        size += bytes;
        if (size >= options.maxBytes) rotate();
      }
    },
    async sync() {
      if (!file || fd < 0 || !unsynced) return;
      unsynced = false;
      const target = fd;
      await new Promise<void>((resolve, reject) =>
        fdatasync(target, (err) => (err ? reject(err) : resolve())),
      );
    },
    close() {
      if (!file || fd < 0) return;
      try {
        closeSync(fd);
      } catch (err) {
        fail(err, 'close');
      }
      fd = -1;
    },
  };
}
