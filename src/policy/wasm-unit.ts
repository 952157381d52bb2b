// One compiled policy unit instantiated with opa-wasm: checked for builtins, given its data, evaluated per layer.
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { type JsBuiltin, assertBuiltinsSupported } from './builtins.js';
import { UNIT_ENTRYPOINT } from './conventions.js';
import { readVerdict } from './decision-reader.js';
import { PolicyError, describeThrown } from './errors.js';
import type { LayerResult } from './types.js';
import type { UnitSource } from './unit-sources.js';
import type { WasmBundle } from './wasm-bundle.js';

/** A unit ready to evaluate. */
export interface WasmUnit {
  readonly source: UnitSource;
  /** Builtins the module imports from the host (all of them supported, or it would not have loaded). */
  readonly builtins: readonly string[];
  /**
   * Evaluates the unit's decision over `input`, the input document as JSON text. Never throws: a
   * policy that aborts (a runtime error in Rego) is a deny, reported through `onError`.
   */
  evaluate(input: ArrayBuffer): LayerResult;
}

export interface LoadWasmUnitOptions {
  readonly source: UnitSource;
  readonly bundle: WasmBundle;
  /** JS implementations of builtins the Wasm module may import (besides opa-wasm's own). */
  readonly builtins: Readonly<Record<string, JsBuiltin>>;
  /** Told about evaluation failures, which are policy bugs; called on the request path, so keep it cheap. */
  readonly onError?: (unit: string, message: string) => void;
}

const EVAL_FAILED = Object.freeze([
  Object.freeze({ code: 'policy_denied', message: 'policy evaluation failed' }),
]);

/** The Wasm exports of OPA's ABI we use beyond what opa-wasm wraps. */
interface AbiExports {
  builtins(): number;
  opa_json_dump(addr: number): number;
}

/**
 * The builtins a module imports from the host, from its `builtins` export (a JSON object of name →
 * id). opa-wasm reads the same export but keeps the answer private.
 */
export function importedBuiltins(policy: LoadedPolicy): string[] {
  const instance =
    'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
  const exports = instance.exports as unknown as AbiExports;
  const at = exports.opa_json_dump(exports.builtins());
  const memory = new Uint8Array(policy.mem.buffer);
  const end = memory.indexOf(0, at);
  const names: unknown = JSON.parse(new TextDecoder().decode(memory.subarray(at, end)));
  return Object.keys(names as Record<string, number>);
}

/** Instantiates a compiled unit. Throws {@link PolicyError} `load_failed` / `unsupported_builtin`. */
export async function loadWasmUnit(options: LoadWasmUnitOptions): Promise<WasmUnit> {
  const { source, bundle, onError } = options;
  const unit = source.id;
  const layer = source.kind;
  const entrypointName = UNIT_ENTRYPOINT[layer];

  let policy: LoadedPolicy;
  let builtins: string[];
  try {
    // A copy, because opa-wasm's signature wants a mutable record.
    policy = await loadPolicy(bundle.wasm, undefined, { ...options.builtins });
    builtins = importedBuiltins(policy);
  } catch (cause) {
    throw new PolicyError(
      'load_failed',
      `${unit}: cannot instantiate the Wasm module: ${describeThrown(cause)}`,
      {
        unit,
        cause,
      },
    );
  }
  assertBuiltinsSupported(unit, builtins, options.builtins);

  const entrypoint: unknown = (policy.entrypoints as Record<string, unknown>)[entrypointName];
  if (typeof entrypoint !== 'number') {
    throw new PolicyError(
      'load_failed',
      `${unit}: the Wasm module has no entrypoint ${entrypointName}`,
      {
        unit,
      },
    );
  }

  try {
    // setData also resets the heap, discarding what importedBuiltins() allocated.
    policy.setData(bundle.data);
  } catch (cause) {
    throw new PolicyError('load_failed', `${unit}: cannot load data: ${describeThrown(cause)}`, {
      unit,
      cause,
    });
  }

  const revision = source.revision;

  return {
    source,
    builtins,
    evaluate(input) {
      const started = process.hrtime.bigint();
      let resultSet: unknown;
      try {
        resultSet = policy.evaluate(input, entrypoint);
      } catch (thrown) {
        onError?.(unit, describeThrown(thrown));
        return {
          allow: false,
          reasons: EVAL_FAILED,
          revision,
          evalNs: Number(process.hrtime.bigint() - started),
        };
      }
      const verdict = readVerdict(resultSet, layer);
      return {
        allow: verdict.allow,
        reasons: verdict.reasons,
        revision,
        evalNs: Number(process.hrtime.bigint() - started),
      };
    },
  };
}
