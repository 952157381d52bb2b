// The directory-only tree watcher: every change below the root is reported, whatever became of the file's inode or its directory.
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type TreeWatcher, watchTree } from '../../src/policy/tree-watcher.js';

const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A watched temporary tree and the paths reported so far. */
async function watched(include?: (relativeDir: string) => boolean) {
  const root = await mkdtemp(join(tmpdir(), 'mandate-tree-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'a'));
  const seen: string[] = [];
  const errors: unknown[] = [];
  const watcher: TreeWatcher = watchTree(
    root,
    (path) => seen.push(path),
    (error) => errors.push(error),
    include !== undefined ? { include } : {},
  );
  cleanups.push(() => watcher.close());
  /** Resolves once `path` was reported after `from` reports; the index to wait from next. */
  const reported = async (path: string, from: number): Promise<number> => {
    const deadline = Date.now() + 3000;
    for (;;) {
      const at = seen.indexOf(path, from);
      if (at >= 0) return seen.length;
      if (Date.now() > deadline)
        throw new Error(`${path} not reported: ${seen.slice(from).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return { root, seen, errors, reported };
}

describe('watchTree', () => {
  it('reports an in-place write right after a rename-save of the same file, every time', async () => {
    const { root, reported, errors } = await watched();
    const file = join(root, 'a', 'f.json');
    await writeFile(file, '0');
    let from = await reported('a/f.json', 0);
    for (let i = 0; i < 50; i += 1) {
      await writeFile(`${file}.tmp`, `r${i}`);
      await rename(`${file}.tmp`, file);
      from = await reported('a/f.json', from);
      await writeFile(file, `w${i}`);
      from = await reported('a/f.json', from);
    }
    expect(errors).toEqual([]);
  });

  it('watches directories created or replaced later, and goes on after one is removed', async () => {
    const { root, reported, errors } = await watched();
    await mkdir(join(root, 'a', 'new', 'deep'), { recursive: true });
    let from = await reported('a/new', 0);
    await writeFile(join(root, 'a', 'new', 'deep', 'x.rego'), 'x');
    from = await reported('a/new/deep/x.rego', from);
    // Replaced by a rename: the new directory (a new inode) at the same path is watched.
    const staged = join(root, 'staged');
    await mkdir(staged);
    await rm(join(root, 'a', 'new'), { recursive: true });
    await rename(staged, join(root, 'a', 'new'));
    from = await reported('a/new', from);
    await writeFile(join(root, 'a', 'new', 'y.json'), 'y');
    from = await reported('a/new/y.json', from);
    // Removed: reported, and the rest of the tree is still watched.
    await rm(join(root, 'a', 'new'), { recursive: true });
    from = await reported('a/new', from);
    await mkdir(join(root, 'a', 'other'));
    await reported('a/other', from);
    expect(errors).toEqual([]);
  });

  it('does not follow a symbolic link to a directory, and skips directories left out', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'mandate-outside-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    const { root, reported, seen } = await watched((dir) => !dir.startsWith('skipped'));
    await symlink(outside, join(root, 'a', 'link'));
    await mkdir(join(root, 'skipped'));
    const from = await reported('skipped', 0);
    await writeFile(join(outside, 'z.rego'), 'z');
    await writeFile(join(root, 'skipped', 'z.rego'), 'z');
    await writeFile(join(root, 'a', 'seen.rego'), 's');
    await reported('a/seen.rego', from);
    expect(seen).not.toContain('a/link/z.rego');
    expect(seen).not.toContain('skipped/z.rego');
  });
});
