// Watch mode: turns file events under the policy directory, or on a bundle file, into debounced batches of changes.
import { watch as watchDir } from 'node:fs';
import { basename, dirname } from 'node:path';
import { BASE_DIR, TENANTS_DIR } from './conventions.js';
import { watchTree } from './tree-watcher.js';

/** A batch of units whose files changed: `base` and/or tenant ids. */
export interface ChangedUnits {
  readonly base: boolean;
  readonly tenants: ReadonlySet<string>;
}

export interface DirWatcher {
  /** Resolves once the initial scan is done: from then on every change is seen. */
  readonly ready: Promise<void>;
  close(): void;
}

/** The unit a path (relative to the policy directory) belongs to, or undefined for files outside any unit. */
export function unitOfPath(relative: string): { base: true } | { tenant: string } | undefined {
  const parts = relative.split(/[\\/]/).filter((part) => part !== '');
  if (parts[0] === BASE_DIR) return { base: true };
  if (parts[0] === TENANTS_DIR && parts[1] !== undefined && !parts[1].startsWith('.')) {
    return { tenant: parts[1] };
  }
  return undefined;
}

/**
 * Watches `dir` recursively. Events are collected until `debounceMs` pass without one (an editor's
 * save is several events), then `onChange` gets the batch. `onChange` runs one batch at a time;
 * events arriving meanwhile form the next batch.
 */
export function watchPolicyDir(
  dir: string,
  debounceMs: number,
  onChange: (changed: ChangedUnits) => Promise<void>,
  onError: (error: unknown) => void,
): DirWatcher {
  let base = false;
  let tenants = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  const flush = () => {
    timer = undefined;
    if (running !== undefined) {
      // Re-armed when the batch in progress ends.
      return;
    }
    if (!base && tenants.size === 0) return;
    const batch: ChangedUnits = { base, tenants };
    base = false;
    tenants = new Set();
    running = onChange(batch)
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (!closed && (base || tenants.size > 0)) timer = setTimeout(flush, debounceMs);
      });
  };

  // Directories only (tree-watcher.ts says why): an in-place write landing right after a
  // rename-save of the same file is never lost. Only the root, base/ and tenants/ are watched.
  const watcher = watchTree(
    dir,
    (relativePath) => {
      const unit = unitOfPath(relativePath);
      if (unit === undefined) {
        // `tenants` itself changed (a folder renamed in or out): rescan every tenant we can see.
        if (relativePath === TENANTS_DIR) tenants.add('*');
        else return;
      } else if ('base' in unit) {
        base = true;
      } else {
        tenants.add(unit.tenant);
      }
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(flush, debounceMs);
    },
    onError,
    {
      include: (relativeDir) =>
        relativeDir === '' || relativeDir === TENANTS_DIR || unitOfPath(relativeDir) !== undefined,
    },
  );
  // The tree is watched once watchTree returns.
  const ready = Promise.resolve();

  return {
    ready,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}

/** A watch on one file; see {@link watchFile}. */
export interface FileWatcher {
  close(): void;
}

/**
 * Watches one file (a bundle) through its directory, so a file replaced by a rename is still seen.
 * `onChange` runs once events have stopped for `debounceMs`.
 */
export function watchFile(
  path: string,
  debounceMs: number,
  onChange: () => void,
  onError: (error: unknown) => void,
): FileWatcher {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watchDir(dirname(path), (_event, name) => {
    if (name?.toString() !== basename(path)) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  watcher.on('error', onError);
  return {
    close() {
      watcher.close();
    },
  };
}
