// The capabilities file every compile uses: opa's own, narrowed to the builtins mandate's runtime really has.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError } from './errors.js';
import type { OpaCli } from './opa-cli.js';
import { isRuntimeBuiltin } from './runtime-builtins.js';

/** A capabilities document ready to hand to `opa build --capabilities` / `opa check --capabilities`. */
export interface RuntimeCapabilities {
  /** Path of the JSON file (content-addressed, so concurrent writers agree). */
  readonly path: string;
  /** First 12 hex digits of the file's sha256: part of every compile-cache key. */
  readonly hash: string;
  /** Builtins opa knows that were left out, so a compile error can say "not available in mandate". */
  readonly excluded: ReadonlySet<string>;
}

/**
 * Narrows `opa capabilities --current` (JSON text) to the runtime builtins, keeping opa's
 * declarations (argument types) and its features and future keywords as they are.
 */
export function narrowCapabilities(
  currentJson: string,
  admit: (name: string) => boolean = isRuntimeBuiltin,
): {
  readonly json: string;
  readonly excluded: Set<string>;
} {
  let doc: { builtins?: { name?: unknown }[] } & Record<string, unknown>;
  try {
    doc = JSON.parse(currentJson) as typeof doc;
  } catch (cause) {
    throw new PolicyError('opa_not_found', 'opa printed capabilities that are not JSON', { cause });
  }
  if (!Array.isArray(doc.builtins)) {
    throw new PolicyError('opa_not_found', 'opa printed capabilities without builtins');
  }
  const excluded = new Set<string>();
  const builtins = doc.builtins.filter((builtin) => {
    const name = typeof builtin.name === 'string' ? builtin.name : '';
    if (admit(name)) return true;
    excluded.add(name);
    return false;
  });
  return { json: `${JSON.stringify({ ...doc, builtins }, null, 2)}\n`, excluded };
}

/**
 * Writes the narrowed capabilities of this opa under `dir` (default: the OS temp dir) and returns
 * them. `admit` chooses the builtins kept (default: those of base and tenant units).
 */
export async function writeRuntimeCapabilities(
  opa: OpaCli,
  dir: string = join(tmpdir(), 'mandate-capabilities'),
  admit: (name: string) => boolean = isRuntimeBuiltin,
): Promise<RuntimeCapabilities> {
  const { json, excluded } = narrowCapabilities(await opa.capabilities(), admit);
  const hash = createHash('sha256').update(json).digest('hex').slice(0, 12);
  const path = join(dir, `capabilities-${hash}.json`);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== json) {
    await mkdir(dir, { recursive: true });
    // Written under a unique name first: a reader never sees half a file.
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, json);
    await rename(temp, path);
  }
  return { path, hash, excluded };
}

const UNDEFINED_FUNCTION = /undefined function ([A-Za-z0-9_.]+)/;

/** The builtin a compile problem complains about when it is one opa knows but mandate's runtime lacks. */
export function unsupportedBuiltinOf(
  text: string,
  excluded: ReadonlySet<string>,
): string | undefined {
  const name = UNDEFINED_FUNCTION.exec(text)?.[1];
  return name !== undefined && excluded.has(name) ? name : undefined;
}
