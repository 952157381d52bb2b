// The compatibility policy unit: one folder of Rego (OPA-Envoy style) compiled to Wasm with a configured entrypoint.
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { assertBuiltinsSupported, createDecisionClock } from './builtins.js';
import { createHostBuiltins, isCompatBuiltin } from './builtins/index.js';
import { unsupportedBuiltinOf, writeRuntimeCapabilities } from './capabilities.js';
import type { CompatPolicy, CompatResult } from './compat-types.js';
import { readCompatResult } from './compat-result.js';
import { isUnitSourceFile } from './conventions.js';
import { PolicyError, describeThrown } from './errors.js';
import { createOpaCli } from './opa-cli.js';
import { readWasmBundle } from './wasm-bundle.js';
import { importedBuiltins } from './wasm-unit.js';

export interface CompatPolicyOptions {
  /** Folder holding the policy's Rego and data files (tests `*_test.rego` are skipped). */
  readonly dir: string;
  /** Rule path whose value decides, e.g. `envoy/authz/allow`. */
  readonly entrypoint: string;
  /** The `opa` binary; default as for the base policy. */
  readonly opaPath?: string;
  /** Told about policy runtime errors and unusable results (each one is a deny). */
  readonly onError?: (message: string) => void;
  /** Clock for `time.now_ns`, nanoseconds since the epoch. Default: the wall clock. */
  readonly now?: () => bigint | number;
}

/** The unit's label in logs, status and errors. */
const UNIT = 'compat';

interface Loaded {
  readonly policy: LoadedPolicy;
  readonly entrypoint: number;
  readonly revision: string;
}

async function sourceFiles(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    throw new PolicyError('unit_invalid', `${UNIT}: cannot read the policy folder ${dir}`, {
      unit: UNIT,
      cause,
    });
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix === '' ? entry.name : posix.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await sourceFiles(join(dir, entry.name), rel)));
    else if (entry.isFile() && isUnitSourceFile(entry.name)) found.push(rel);
  }
  return found;
}

/** First 12 hex digits of a sha256 over the files' paths and contents, as for base and tenant units. */
async function revisionOf(dir: string, files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    const content = await readFile(join(dir, file));
    hash.update(`${file}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest('hex').slice(0, 12);
}

/** A compile failure over builtins mandate refuses, as `unsupported_builtin` naming each file, line and builtin. */
function refusedBuiltins(thrown: unknown, excluded: ReadonlySet<string>): unknown {
  if (!(thrown instanceof PolicyError) || thrown.code !== 'compile_failed') return thrown;
  const refused = thrown.problems
    .map((problem) => ({ problem, name: unsupportedBuiltinOf(problem.text, excluded) }))
    .filter(
      (entry): entry is { problem: (typeof thrown.problems)[number]; name: string } =>
        entry.name !== undefined,
    );
  if (refused.length === 0) return thrown;
  const where = refused.map(({ problem, name }) => `${name} (${problem.file}:${problem.line})`);
  const builtins = [...new Set(refused.map((entry) => entry.name))].sort();
  return new PolicyError(
    'unsupported_builtin',
    `${UNIT}: policy uses builtin${refused.length > 1 ? 's' : ''} mandate does not run in compatibility mode: ${where.join(', ')}`,
    { unit: UNIT, problems: thrown.problems, builtins, cause: thrown },
  );
}

/** Builds the unit; nothing is compiled until start(). */
export function createCompatPolicy(options: CompatPolicyOptions): CompatPolicy {
  const dir = resolve(options.dir);
  const clock = createDecisionClock(options.now);
  // One set of host builtins (and verification caches) for the unit's life, reading the decision clock.
  const builtins = {
    ...clock.builtins,
    ...createHostBuiltins({ nowNs: clock.nowNs, decision: clock.decision }),
  };
  const encoder = new TextEncoder();
  let loaded: Loaded | undefined;
  let failure: PolicyError | undefined;
  let evalErrors = 0;

  async function load(): Promise<Loaded> {
    const files = (await sourceFiles(dir)).sort();
    if (!files.some((f) => f.endsWith('.rego'))) {
      throw new PolicyError('unit_invalid', `${UNIT}: ${dir} holds no .rego files (tests aside)`, {
        unit: UNIT,
      });
    }
    const revision = await revisionOf(dir, files);
    const opa = createOpaCli(options.opaPath === undefined ? {} : { opaPath: options.opaPath });
    // Compiled against the builtins mandate can run, so a refused one is a compile error naming its file and line.
    const capabilities = await writeRuntimeCapabilities(opa, undefined, isCompatBuiltin);
    let gzipped: Uint8Array;
    try {
      gzipped = await opa.build({
        cwd: dirname(dir),
        paths: [basename(dir)],
        entrypoints: [options.entrypoint],
        capabilitiesPath: capabilities.path,
        unit: UNIT,
      });
    } catch (thrown) {
      throw refusedBuiltins(thrown, capabilities.excluded);
    }
    const bundle = await readWasmBundle(gzipped, UNIT);
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(bundle.wasm, undefined, { ...builtins });
    } catch (cause) {
      throw new PolicyError('load_failed', `${UNIT}: cannot instantiate the Wasm module`, {
        unit: UNIT,
        cause,
      });
    }
    assertBuiltinsSupported(UNIT, importedBuiltins(policy), builtins);
    const entrypoint: unknown = (policy.entrypoints as Record<string, unknown>)[options.entrypoint];
    if (typeof entrypoint !== 'number') {
      throw new PolicyError(
        'load_failed',
        `${UNIT}: the Wasm module has no entrypoint ${options.entrypoint}`,
        { unit: UNIT },
      );
    }
    policy.setData(bundle.data);
    return { policy, entrypoint, revision };
  }

  const NOT_LOADED: CompatResult = Object.freeze({
    allow: false,
    reasons: Object.freeze([
      Object.freeze({
        code: 'internal_error',
        message: 'the compatibility policy is not loaded',
      }),
    ]),
    result: undefined,
    revision: '',
    evalNs: 0,
  });

  return {
    evaluate(input) {
      const state = loaded;
      if (state === undefined) return NOT_LOADED;
      const started = process.hrtime.bigint();
      clock.begin();
      let resultSet: unknown;
      try {
        const bytes = encoder.encode(JSON.stringify(input ?? null));
        resultSet = state.policy.evaluate(bytes.buffer as ArrayBuffer, state.entrypoint);
      } catch (thrown) {
        evalErrors += 1;
        options.onError?.(describeThrown(thrown));
        return {
          allow: false,
          reasons: [{ code: 'policy_denied', message: 'policy evaluation failed' }],
          result: undefined,
          revision: state.revision,
          evalNs: Number(process.hrtime.bigint() - started),
        };
      }
      const { problem, ...verdict } = readCompatResult(resultSet, options.entrypoint);
      // OPA-Envoy fails such a request with an error; here it is a deny, logged like one.
      if (problem !== undefined) options.onError?.(problem);
      return {
        ...verdict,
        revision: state.revision,
        evalNs: Number(process.hrtime.bigint() - started),
      };
    },
    revision: () => loaded?.revision,
    async start() {
      try {
        loaded = await load();
        failure = undefined;
      } catch (thrown) {
        failure =
          thrown instanceof PolicyError
            ? thrown
            : new PolicyError('load_failed', `${UNIT}: ${describeThrown(thrown)}`, {
                unit: UNIT,
                cause: thrown,
              });
        throw failure;
      }
    },
    async stop() {
      loaded = undefined;
    },
    status(): ComponentStatus {
      if (loaded === undefined) {
        return failure
          ? { state: 'ERROR', message: failure.message, detail: { code: failure.code } }
          : { state: 'NOT_READY', message: 'the compatibility policy is not loaded' };
      }
      return {
        state: 'OK',
        message: `compat ${loaded.revision} (${options.entrypoint})`,
        detail: {
          revision: loaded.revision,
          entrypoint: options.entrypoint,
          eval_errors: evalErrors,
        },
      };
    },
  };
}
