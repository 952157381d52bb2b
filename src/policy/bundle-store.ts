// Keeps the last activated bundle of each unit on disk, so a restart can serve it while the bundle server is down.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What is remembered beside a persisted bundle. */
export interface PersistedMeta {
  readonly unit: string;
  readonly url: string;
  readonly etag?: string;
  readonly revision: string;
  /** ms since the epoch. */
  readonly activatedAt: number;
}

/** The folder of one unit: `base`, or `tenant-<id>` (ids are validated by the config reader). */
function unitFolder(dir: string, unit: string): string {
  return join(dir, unit === 'base' ? 'base' : `tenant-${unit.replace(/^tenants?[:/]/, '')}`);
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}

/** Writes `bundle.tar.gz` and `meta.json` for `unit` under `dir`; the bundle first, so meta never points at nothing. */
export async function persistBundle(
  dir: string,
  bytes: Uint8Array,
  meta: PersistedMeta,
): Promise<void> {
  const folder = unitFolder(dir, meta.unit);
  await mkdir(folder, { recursive: true });
  await writeAtomically(join(folder, 'bundle.tar.gz'), bytes);
  await writeAtomically(join(folder, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

/** The persisted bundle of `unit`, or undefined when there is none (or it is unreadable). */
export async function loadPersistedBundle(
  dir: string,
  unit: string,
): Promise<{ readonly bytes: Uint8Array; readonly meta: PersistedMeta } | undefined> {
  const folder = unitFolder(dir, unit);
  try {
    const meta = JSON.parse(await readFile(join(folder, 'meta.json'), 'utf8')) as PersistedMeta;
    const bytes = await readFile(join(folder, 'bundle.tar.gz'));
    return { bytes, meta };
  } catch {
    return undefined;
  }
}
