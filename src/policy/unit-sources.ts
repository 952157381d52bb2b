// Finds the policy units in a policy directory and fingerprints each one's sources as its revision.
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BASE_DIR, TENANTS_DIR, type UnitKind, isUnitSourceFile } from './conventions.js';
import type { DataFile } from './data-files.js';
import { PolicyError } from './errors.js';

/** One unit's sources, read and fingerprinted but not yet compiled. */
export interface UnitSource {
  /** `base` or `tenant:<id>`: how logs, status and errors name the unit. */
  readonly id: string;
  readonly kind: UnitKind;
  /** The tenant id, for tenant units. */
  readonly tenant?: string;
  /** The unit's folder relative to the policy directory (`base`, `tenants/acme_inc`), POSIX separators. */
  readonly path: string;
  /** Source files (Rego and data, not tests) relative to the unit folder, sorted. */
  readonly files: readonly string[];
  /** First 12 hex digits of a sha256 over the source files' paths and contents. */
  readonly revision: string;
}

/** The label of a unit in logs, status and errors. */
export function unitId(kind: UnitKind, tenant?: string): string {
  return kind === 'base' ? 'base' : `tenant:${tenant}`;
}

async function entries(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true });
}

/** Source files below `dir`, recursively, as POSIX paths relative to it. Symlinks are skipped, as opa does. */
async function sourceFiles(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await entries(dir)) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix === '' ? entry.name : posix.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await sourceFiles(join(dir, entry.name), rel)));
    else if (entry.isFile() && isUnitSourceFile(entry.name)) found.push(rel);
  }
  return found;
}

/**
 * Tenant ids that have a policy folder, sorted. A missing `tenants/` folder means no tenant has one.
 * Hidden folders are ignored.
 */
export async function listTenants(policyDir: string): Promise<string[]> {
  let found: Dirent[];
  try {
    found = await entries(join(policyDir, TENANTS_DIR));
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ENOENT') return [];
    throw new PolicyError('unit_invalid', `cannot list ${join(policyDir, TENANTS_DIR)}`, { cause });
  }
  return found
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

/** A unit's sources read into memory: what is compiled is exactly what was fingerprinted. */
export interface UnitSnapshot extends UnitSource {
  /** Rego files (tests excluded), path relative to the unit folder, sorted. */
  readonly rego: readonly { readonly path: string; readonly text: string }[];
  /** Data files (JSON / YAML), path relative to the unit folder, sorted. */
  readonly dataFiles: readonly DataFile[];
  /** sha256 (hex) over the Rego files alone: equal hashes need no new compile. */
  readonly regoHash: string;
}

/** Reads one unit's files, revision and Rego hash. Throws {@link PolicyError} `unit_invalid`. */
export async function readUnitSnapshot(
  policyDir: string,
  kind: UnitKind,
  tenant?: string,
): Promise<UnitSnapshot> {
  const id = unitId(kind, tenant);
  const path = kind === 'base' ? BASE_DIR : posix.join(TENANTS_DIR, tenant ?? '');
  const dir = join(policyDir, path);

  let files: string[];
  try {
    files = (await sourceFiles(dir)).sort();
  } catch (cause) {
    const missing = (cause as { code?: unknown }).code === 'ENOENT';
    throw new PolicyError(
      'unit_invalid',
      missing ? `${id}: policy directory ${dir} does not exist` : `${id}: cannot read ${dir}`,
      { unit: id, cause },
    );
  }
  if (!files.some((file) => file.endsWith('.rego'))) {
    throw new PolicyError('unit_invalid', `${id}: ${dir} holds no .rego files (tests aside)`, {
      unit: id,
    });
  }

  const hash = createHash('sha256');
  const regoHash = createHash('sha256');
  const rego: { path: string; text: string }[] = [];
  const dataFiles: DataFile[] = [];
  for (const file of files) {
    let content: Buffer;
    try {
      content = await readFile(join(dir, file));
    } catch (cause) {
      throw new PolicyError('unit_invalid', `${id}: cannot read ${join(dir, file)}`, {
        unit: id,
        cause,
      });
    }
    // Path and length framing keep ("a", "bc") and ("ab", "c") apart.
    hash.update(`${file}\0${content.length}\0`);
    hash.update(content);
    if (file.endsWith('.rego')) {
      regoHash.update(`${file}\0${content.length}\0`);
      regoHash.update(content);
      rego.push({ path: file, text: content.toString('utf8') });
    } else {
      dataFiles.push({ path: file, content });
    }
  }
  const revision = hash.digest('hex').slice(0, 12);
  return {
    id,
    kind,
    ...(tenant === undefined ? {} : { tenant }),
    path,
    files,
    revision,
    rego,
    dataFiles,
    regoHash: regoHash.digest('hex'),
  };
}
