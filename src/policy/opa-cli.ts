// Runs the `opa` binary: finds it, reports its version, compiles one policy unit to a Wasm bundle.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IGNORED_FILE_PATTERNS } from './conventions.js';
import { type CompileProblem, PolicyError, describeThrown } from './errors.js';

const run = promisify(execFile);

/** The opa release policies are written and tested against (also pinned in scripts/ensure-opa.mjs). */
export const PINNED_OPA_VERSION = '1.22.3';

export interface OpaCliOptions {
  /** Explicit path of the `opa` binary (config `policies.opa_path`). Default: `<repo>/.tools/opa`, else `opa` on PATH. */
  readonly opaPath?: string;
  /** Longest a single `opa build` may run, milliseconds. Default 120000. */
  readonly timeoutMs?: number;
}

export interface BuildWasmRequest {
  /** Working directory for opa: the policy directory, so opa's messages name files relative to it. */
  readonly cwd: string;
  /** The unit's folder relative to `cwd`, e.g. `base` or `tenants/acme_inc`. */
  readonly path: string;
  /** The `-e` entrypoint, e.g. `mandate/base/decision`. */
  readonly entrypoint: string;
  /** Unit label for error messages: `base` or `tenant:<id>`. */
  readonly unit: string;
}

export interface BuildRequest {
  /** Working directory for opa; messages name files relative to it. */
  readonly cwd: string;
  /** Folders or files to compile, relative to `cwd`. */
  readonly paths: readonly string[];
  /** One `-e` per entrypoint, e.g. `mandate/base/decision`. */
  readonly entrypoints: readonly string[];
  /** A capabilities file restricting the builtins (see capabilities.ts). Default: opa's own. */
  readonly capabilitiesPath?: string;
  /** Label for error messages: `base`, `tenant:<id>`, `pack:3`. */
  readonly unit: string;
}

/** What a plain opa run printed, for commands whose output is shown to a person (test, fmt, check). */
export interface OpaRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface OpaCli {
  /** The binary that will be run: an absolute path, or `opa` to be looked up on PATH. */
  readonly path: string;
  /** The version opa reports (`1.22.3`). Throws {@link PolicyError} `opa_not_found`. */
  version(): Promise<string>;
  /** Compiles one unit to a gzipped Wasm bundle. Throws {@link PolicyError} `compile_failed` / `opa_not_found`. */
  buildWasm(request: BuildWasmRequest): Promise<Uint8Array>;
  /** Compiles Rego to one Wasm module with any number of entrypoints; returns the gzipped bundle. */
  build(request: BuildRequest): Promise<Uint8Array>;
  /** `opa capabilities --current` as JSON text. Throws {@link PolicyError} `opa_not_found`. */
  capabilities(): Promise<string>;
  /** Runs opa with `args`; a non-zero exit is a result, not an error. Throws only when opa cannot run. */
  run(args: readonly string[], options?: { readonly cwd?: string }): Promise<OpaRun>;
}

/** The nearest folder above this module holding a package.json: the repo (or installed package) root. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Picks the binary: the configured path, else the one ensure-opa installed, else PATH. */
export function locateOpa(opaPath?: string): string {
  if (opaPath !== undefined) return resolve(opaPath);
  const root = packageRoot();
  const exe = process.platform === 'win32' ? 'opa.exe' : 'opa';
  if (root !== undefined) {
    const local = join(root, '.tools', exe);
    if (isExecutable(local)) return local;
  }
  return 'opa';
}

const PROBLEM = /([^\s:]+\.rego):(\d+):\s*([a-z_]+):\s*([^\n]*)/g;

/** Pulls `file:line: kind: text` problems out of opa's output. */
export function parseCompileProblems(output: string): CompileProblem[] {
  const problems: CompileProblem[] = [];
  for (const match of output.matchAll(PROBLEM)) {
    problems.push({
      file: match[1]!,
      line: Number(match[2]),
      kind: match[3]!,
      text: match[4]!.trim(),
    });
  }
  return problems;
}

interface ExecFailure {
  code?: unknown;
  killed?: boolean;
  stdout?: unknown;
  stderr?: unknown;
}

function notFound(path: string, cause: unknown): PolicyError {
  return new PolicyError(
    'opa_not_found',
    `cannot run opa at "${path}"; run \`node scripts/ensure-opa.mjs\` or set policies.opa_path ` +
      `(opa ${PINNED_OPA_VERSION} is needed to compile policies)`,
    { cause },
  );
}

const MAX_DETAIL_CHARS = 4000;

function buildFailure(path: string, unit: string, timeout: number, cause: unknown): PolicyError {
  const failure = cause as ExecFailure;
  if (failure.code === 'ENOENT' || failure.code === 'EACCES') return notFound(path, cause);
  // opa prints compile errors on stdout, other failures on stderr.
  const output = [failure.stdout, failure.stderr]
    .map((stream) => (typeof stream === 'string' ? stream.trim() : ''))
    .filter((text) => text !== '')
    .join('\n');
  let detail = failure.killed
    ? `opa build did not finish within ${timeout} ms`
    : output.replace(/^error:\s*/, '') || describeThrown(cause);
  if (detail.length > MAX_DETAIL_CHARS) detail = `${detail.slice(0, MAX_DETAIL_CHARS)}…`;
  return new PolicyError('compile_failed', `${unit}: ${detail}`, {
    unit,
    problems: parseCompileProblems(output),
    cause,
  });
}

/** Builds the wrapper. The binary is located once, when this is called. */
export function createOpaCli(options: OpaCliOptions = {}): OpaCli {
  const path = locateOpa(options.opaPath);
  const timeout = options.timeoutMs ?? 120_000;

  async function build(request: BuildRequest): Promise<Uint8Array> {
    const outDir = await mkdtemp(join(tmpdir(), 'mandate-opa-'));
    const out = join(outDir, 'bundle.tar.gz');
    const args = ['build', '-t', 'wasm'];
    for (const entrypoint of request.entrypoints) args.push('-e', entrypoint);
    for (const pattern of IGNORED_FILE_PATTERNS) args.push('--ignore', pattern);
    if (request.capabilitiesPath !== undefined) {
      args.push('--capabilities', request.capabilitiesPath);
    }
    args.push('-o', out, ...request.paths);
    try {
      try {
        await run(path, args, { cwd: request.cwd, timeout, maxBuffer: 4 * 1024 * 1024 });
      } catch (cause) {
        throw buildFailure(path, request.unit, timeout, cause);
      }
      return await readFile(out);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }

  return {
    path,

    async version() {
      try {
        const { stdout } = await run(path, ['version'], { timeout: 30_000 });
        const version = /^Version:\s*v?(\S+)/m.exec(stdout)?.[1];
        if (version === undefined) throw new Error('unexpected `opa version` output');
        return version;
      } catch (cause) {
        throw notFound(path, cause);
      }
    },

    buildWasm(request) {
      return build({
        cwd: request.cwd,
        paths: [request.path],
        entrypoints: [request.entrypoint],
        unit: request.unit,
      });
    },

    build,

    async capabilities() {
      try {
        const { stdout } = await run(path, ['capabilities', '--current'], {
          timeout: 30_000,
          maxBuffer: 16 * 1024 * 1024,
        });
        return stdout;
      } catch (cause) {
        throw notFound(path, cause);
      }
    },

    async run(args, runOptions = {}) {
      try {
        const { stdout, stderr } = await run(path, [...args], {
          timeout,
          maxBuffer: 64 * 1024 * 1024,
          ...(runOptions.cwd !== undefined && { cwd: runOptions.cwd }),
        });
        return { code: 0, stdout, stderr };
      } catch (cause) {
        const failure = cause as ExecFailure;
        if (typeof failure.code !== 'number') throw notFound(path, cause);
        return {
          code: failure.code,
          stdout: typeof failure.stdout === 'string' ? failure.stdout : '',
          stderr: typeof failure.stderr === 'string' ? failure.stderr : '',
        };
      }
    },
  };
}
