// Watches a directory tree through its directories only (one fs.watch per directory), so a file replaced by a rename is seen as surely as one written in place.
//
// Why directories and not files: on Linux a watch on a file follows its inode. A rename-save (sed -i,
// vim, most IDEs) puts a new inode at the path, and until a per-file watch is re-established on it,
// in-place writes to it go unseen: chokidar lost them that way when such a write landed right after a
// rename-save (test/policy/watch-stress.test.ts). A directory's watch reports every change to the
// entries it holds, whatever their inode, so nothing has to be re-established when a file is replaced.
import { type FSWatcher, lstatSync, readdirSync, statSync, watch } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** A running watch on a tree; see {@link watchTree}. */
export interface TreeWatcher {
  /** Stops every directory watch. */
  close(): void;
}

export interface TreeWatchOptions {
  /** Directories (relative to the root, `''` for the root) to watch; the default watches all. */
  readonly include?: (relativeDir: string) => boolean;
}

interface WatchedDir {
  readonly watcher: FSWatcher;
  /** The inode watched: a directory renamed over this path is a new one to watch. */
  readonly ino: number;
}

/**
 * Watches `root` and every directory below it (symbolic links are not followed, as opa skips them).
 * `onPath` gets the path, relative to `root`, of every entry that was created, written, renamed or
 * removed; a directory that appears is watched (with everything below it) before it is reported,
 * so whatever the report makes its caller read, any later change below it is reported too.
 * `onPath` may be called more than once per change and should be cheap (a caller debounces).
 */
export function watchTree(
  root: string,
  onPath: (relativePath: string) => void,
  onError: (error: unknown) => void,
  options: TreeWatchOptions = {},
): TreeWatcher {
  const include = options.include ?? (() => true);
  const watched = new Map<string, WatchedDir>();
  let closed = false;

  const unwatch = (dir: string) => {
    for (const [path, entry] of watched) {
      if (path === dir || path.startsWith(dir + sep)) {
        entry.watcher.close();
        watched.delete(path);
      }
    }
  };

  /** Watches `dir` and the directories below it, or stops watching what is no longer a directory there. */
  const sync = (dir: string) => {
    const inode = directoryInode(dir, dir === root);
    const known = watched.get(dir);
    if (inode === undefined || !include(relative(root, dir))) {
      unwatch(dir);
      return;
    }
    if (known?.ino === inode) return;
    if (known !== undefined) unwatch(dir);
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => onEvent(dir, name));
    } catch (error) {
      // Gone meanwhile (its parent's event follows), or out of watches (ENOSPC): say so.
      if (directoryInode(dir, dir === root) !== undefined) onError(error);
      return;
    }
    watcher.on('error', (error) => {
      unwatch(dir);
      if (!closed) onError(error);
    });
    watched.set(dir, { watcher, ino: inode });
    // Listed after the watch exists, so a sub-directory created meanwhile is either listed here or
    // reported by the watch.
    for (const entry of listDirectories(dir)) sync(join(dir, entry));
  };

  const onEvent = (dir: string, name: string | Buffer | null) => {
    if (closed) return;
    if (name === null) {
      // The platform did not say which entry: treat the whole directory as changed.
      for (const entry of listDirectories(dir)) sync(join(dir, entry));
      onPath(relative(root, dir));
      return;
    }
    const path = join(dir, name.toString());
    sync(path);
    onPath(relative(root, path));
  };

  sync(root);
  return {
    close() {
      closed = true;
      unwatch(root);
    },
  };
}

/** The inode of the directory at `path`, or undefined when there is none (a symbolic link counts as none below the root). */
function directoryInode(path: string, follow: boolean): number | undefined {
  try {
    const stats = follow ? statSync(path) : lstatSync(path);
    return stats.isDirectory() ? stats.ino : undefined;
  } catch {
    return undefined;
  }
}

/** Names of the directories in `dir` (none when it cannot be read: it is gone, and its parent reports that). */
function listDirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}
