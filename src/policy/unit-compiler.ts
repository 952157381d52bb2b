// Compiles unit snapshots to Wasm with the real `opa`: base alone, tenants in packs, with a content-addressed cache.
//
// Each compile runs over a staged copy of the snapshot's Rego (what was fingerprinted is what is
// compiled, whatever the editor does meanwhile), laid out like the policy directory so opa's
// messages name `tenants/<id>/<file>:<line>`. Data is never compiled in: it is loaded per unit.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import {
  type RuntimeCapabilities,
  unsupportedBuiltinOf,
  writeRuntimeCapabilities,
} from './capabilities.js';
import { UNIT_ENTRYPOINT } from './conventions.js';
import { type CompileProblem, PolicyError } from './errors.js';
import { type OpaCli, createOpaCli } from './opa-cli.js';
import { packedEntrypoint, rewriteForPack } from './pack-rewrite.js';
import type { UnitSnapshot } from './unit-sources.js';
import { readWasmBundle } from './wasm-bundle.js';
import { type CompiledModule, compileModule } from './wasm-host.js';

export interface CompilerOptions {
  /** The `opa` binary; default as in opa-cli.ts. */
  readonly opaPath?: string;
  /** Folder of compiled modules keyed by content hash; default: no cache. */
  readonly cacheDir?: string;
}

/** What compiling a set of tenants together produced. */
export interface PackResult {
  /** The shared module, when at least one unit went into it. */
  readonly module?: CompiledModule;
  /** Units in `module`, with the entrypoint of each one's decision. */
  readonly packed: ReadonlyMap<string, string>;
  /** Units compiled alone (their Rego cannot be packed safely, or packing failed for them). */
  readonly solo: ReadonlyMap<string, CompiledModule>;
  /** Units that do not compile at all. */
  readonly failures: ReadonlyMap<string, PolicyError>;
}

export interface UnitCompiler {
  readonly opa: OpaCli;
  /** Version the binary reports. */
  readonly opaVersion: string;
  readonly capabilities: RuntimeCapabilities;
  /** Compiles one unit alone at its conventional entrypoint. Throws {@link PolicyError}. */
  compileSolo(snapshot: UnitSnapshot): Promise<CompiledModule>;
  /** The Wasm bytes of one unit compiled alone (for bundles). Throws {@link PolicyError}. */
  compileWasm(snapshot: UnitSnapshot): Promise<Uint8Array>;
  /** Compiles tenant units into one module where possible. Throws only when opa cannot run. */
  compilePack(snapshots: readonly UnitSnapshot[]): Promise<PackResult>;
}

interface StagedFile {
  readonly path: string;
  readonly text: string;
}

function unitOfFile(file: string): string | undefined {
  const parts = file.split('/');
  if (parts[0] === 'base') return 'base';
  if (parts[0] === 'tenants' && parts.length > 2) return `tenant:${parts[1]}`;
  return undefined;
}

/** Narrows a compile failure to one unit's problems and names unsupported builtins as such. */
function failureFor(
  error: PolicyError,
  unit: string,
  capabilities: RuntimeCapabilities,
): PolicyError {
  if (error.code !== 'compile_failed') return error;
  const own = error.problems.filter((problem) => unitOfFile(problem.file) === unit);
  const problems: readonly CompileProblem[] = own.length > 0 ? own : error.problems;
  const builtins = [
    ...new Set(
      problems
        .map((problem) => unsupportedBuiltinOf(problem.text, capabilities.excluded))
        .filter((name): name is string => name !== undefined),
    ),
  ].sort();
  const message =
    own.length > 0
      ? `${unit}: ${own.map((p) => `${p.file}:${p.line}: ${p.kind}: ${p.text}`).join('; ')}`
      : error.message;
  if (builtins.length > 0) {
    return new PolicyError(
      'unsupported_builtin',
      `${message} (builtin${builtins.length > 1 ? 's' : ''} not available to Wasm policies in mandate: ${builtins.join(', ')})`,
      { unit, problems, builtins, cause: error },
    );
  }
  return new PolicyError('compile_failed', message, { unit, problems, cause: error });
}

/** Locates opa, checks it runs, writes the runtime capabilities file. Throws {@link PolicyError} `opa_not_found`. */
export async function createUnitCompiler(options: CompilerOptions = {}): Promise<UnitCompiler> {
  const opa = createOpaCli(options.opaPath === undefined ? {} : { opaPath: options.opaPath });
  const opaVersion = await opa.version();
  const capabilities = await writeRuntimeCapabilities(
    opa,
    options.cacheDir ?? join(tmpdir(), 'mandate-capabilities'),
  );

  async function compile(
    label: string,
    files: readonly StagedFile[],
    paths: readonly string[],
    entrypoints: readonly string[],
  ): Promise<CompiledModule> {
    const wasm = await compileBytes(label, files, paths, entrypoints);
    return compileModule(wasm, createHash('sha256').update(wasm).digest('hex'), label);
  }

  async function compileBytes(
    label: string,
    files: readonly StagedFile[],
    paths: readonly string[],
    entrypoints: readonly string[],
  ): Promise<Uint8Array> {
    const key = createHash('sha256');
    key.update(
      `${opaVersion}\0${capabilities.hash}\0${entrypoints.join(',')}\0${paths.join(',')}\0`,
    );
    for (const file of files) key.update(`${file.path}\0${file.text.length}\0${file.text}`);
    const digest = key.digest('hex');
    const cached =
      options.cacheDir === undefined
        ? undefined
        : await readFile(join(options.cacheDir, `${digest}.wasm`)).catch(() => undefined);
    let wasm: Uint8Array;
    if (cached !== undefined) {
      wasm = cached;
    } else {
      const stage = await mkdtemp(join(tmpdir(), 'mandate-stage-'));
      try {
        for (const file of files) {
          const path = join(stage, ...file.path.split('/'));
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, file.text);
        }
        const gzipped = await opa.build({
          cwd: stage,
          paths,
          entrypoints,
          capabilitiesPath: capabilities.path,
          unit: label,
        });
        wasm = (await readWasmBundle(gzipped, label)).wasm;
      } finally {
        await rm(stage, { recursive: true, force: true });
      }
      if (options.cacheDir !== undefined) {
        // Best effort: a cache that cannot be written only costs a compile next time.
        const target = join(options.cacheDir, `${digest}.wasm`);
        const temp = `${target}.${process.pid}.tmp`;
        await mkdir(options.cacheDir, { recursive: true })
          .then(() => writeFile(temp, wasm))
          .then(() => rename(temp, target))
          .catch(() => undefined);
      }
    }
    return wasm;
  }

  async function compileWasm(snapshot: UnitSnapshot): Promise<Uint8Array> {
    const files = snapshot.rego.map((file) => ({
      path: posix.join(snapshot.path, file.path),
      text: file.text,
    }));
    try {
      return await compileBytes(
        snapshot.id,
        files,
        [snapshot.path],
        [UNIT_ENTRYPOINT[snapshot.kind]],
      );
    } catch (thrown) {
      if (thrown instanceof PolicyError) throw failureFor(thrown, snapshot.id, capabilities);
      throw thrown;
    }
  }

  async function compileSolo(snapshot: UnitSnapshot): Promise<CompiledModule> {
    const wasm = await compileWasm(snapshot);
    return compileModule(wasm, createHash('sha256').update(wasm).digest('hex'), snapshot.id);
  }

  async function compilePack(snapshots: readonly UnitSnapshot[]): Promise<PackResult> {
    const failures = new Map<string, PolicyError>();
    const solo = new Map<string, CompiledModule>();
    const alone: UnitSnapshot[] = [];
    let members: { snapshot: UnitSnapshot; slot: string; files: StagedFile[] }[] = [];

    snapshots.forEach((snapshot, index) => {
      const slot = `u${index}`;
      const files: StagedFile[] = [];
      for (const file of snapshot.rego) {
        const rewritten = rewriteForPack(file.text, slot);
        if (!rewritten.ok) {
          alone.push(snapshot);
          return;
        }
        files.push({ path: posix.join(snapshot.path, file.path), text: rewritten.source });
      }
      members.push({ snapshot, slot, files });
    });

    let module: CompiledModule | undefined;
    while (members.length > 0) {
      try {
        module = await compile(
          `pack of ${members.length}`,
          members.flatMap((member) => member.files),
          members.map((member) => member.snapshot.path),
          members.map((member) => packedEntrypoint(member.slot)),
        );
        break;
      } catch (thrown) {
        if (!(thrown instanceof PolicyError) || thrown.code === 'opa_not_found') throw thrown;
        const blamed = new Set(thrown.problems.map((problem) => unitOfFile(problem.file)));
        const culprits = members.filter((member) => blamed.has(member.snapshot.id));
        // Units named by the compiler are retried alone (for their own, unrewritten messages);
        // with nobody named, every unit is compiled alone.
        const out = culprits.length > 0 ? culprits : members;
        alone.push(...out.map((member) => member.snapshot));
        members = members.filter((member) => !out.includes(member));
      }
    }

    for (const snapshot of alone) {
      try {
        solo.set(snapshot.id, await compileSolo(snapshot));
      } catch (thrown) {
        if (!(thrown instanceof PolicyError) || thrown.code === 'opa_not_found') throw thrown;
        failures.set(snapshot.id, thrown);
      }
    }
    const packed = new Map(
      members.map((member) => [member.snapshot.id, packedEntrypoint(member.slot)]),
    );
    return { ...(module && { module }), packed, solo, failures };
  }

  return { opa, opaVersion, capabilities, compileSolo, compileWasm, compilePack };
}
