// What an instantiated policy module imports from the host, read through OPA's Wasm ABI.
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';

/** The Wasm exports of OPA's ABI we use beyond what opa-wasm wraps. */
interface AbiExports {
  builtins(): number;
  opa_json_dump(addr: number): number;
}

/**
 * The builtins a module imports from the host, from its `builtins` export (a JSON object of name →
 * id). opa-wasm reads the same export but keeps the answer private. (The engine's units are built
 * by wasm-host.ts; the compatibility unit uses this.)
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
