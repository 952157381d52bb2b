// One instance of a compiled policy module holding several units' data documents, evaluated through OPA's Wasm ABI.
//
// OPA's `opa_eval` takes the data address per call, so one instance can serve every unit compiled
// into its module (a pack of tenants, or tenants sharing one bundle's Wasm), each with its own data:
// one runtime, one linear memory, one object for V8's GC instead of one per tenant.
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import type { JsBuiltin } from './builtins.js';
import { PolicyError, describeThrown } from './errors.js';

/** A `WebAssembly.Module` (the project's `lib` setting does not declare the WebAssembly namespace). */
export type WasmModule = object;

const wasmApi = (
  globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }
).WebAssembly;

/** A compiled module, shareable by any number of instances. */
export interface CompiledModule {
  readonly module: WasmModule;
  /** The memory the module imports must have at least this many 64 KiB pages. */
  readonly minPages: number;
  /** sha256 (hex) of the Wasm bytes. */
  readonly wasmHash: string;
  /** Size of the Wasm bytes, for status. */
  readonly bytes: number;
}

/** One unit's place in an instance. */
export interface HostSlot {
  readonly entrypoint: number;
  readonly dataAddr: number;
}

/** A sealed instance: data loaded, ready to evaluate. */
export interface WasmHost {
  /** Entrypoint name → id, as the module reports them. */
  readonly entrypoints: Readonly<Record<string, number>>;
  /** Builtins the module imports from the host. */
  readonly builtins: readonly string[];
  /**
   * Evaluates `entrypoint` over the data at `dataAddr` and `input` (JSON text); returns the result
   * set. Throws when the policy aborts (a Rego runtime error); the instance stays usable.
   */
  evaluate(slot: HostSlot, input: Uint8Array): unknown;
}

/** A host being filled: load every unit's data, then seal. */
export interface HostBuilder {
  readonly entrypoints: Readonly<Record<string, number>>;
  readonly builtins: readonly string[];
  /** Parses `data` into the instance's heap and returns its address. */
  loadData(data: unknown): number;
  seal(): WasmHost;
}

interface AbiExports {
  builtins(): number;
  opa_json_dump(addr: number): number;
  opa_heap_ptr_get(): number;
  opa_malloc(size: number): number;
  opa_json_parse(addr: number, length: number): number;
  opa_eval(
    reserved: number,
    entrypoint: number,
    data: number,
    input: number,
    inputLength: number,
    heap: number,
    format: number,
  ): number;
}

function readLeb(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let next = at;
  for (;;) {
    const byte = bytes[next++];
    if (byte === undefined) throw new Error('truncated LEB128');
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next };
    shift += 7;
  }
}

/**
 * The minimum pages of the memory a module imports, read from its import section. opa-wasm
 * creates 5 pages by default; a pack of many tenants needs more for its data segments, and
 * a smaller module wastes less.
 */
export function importedMemoryMinPages(wasm: Uint8Array): number {
  let at = 8; // magic + version
  while (at < wasm.length) {
    const id = wasm[at++]!;
    const size = readLeb(wasm, at);
    const start = size.next;
    const end = start + size.value;
    if (id === 2) {
      let cursor = readLeb(wasm, start);
      const count = cursor.value;
      let p = cursor.next;
      for (let i = 0; i < count; i++) {
        const moduleName = readLeb(wasm, p);
        p = moduleName.next + moduleName.value;
        const field = readLeb(wasm, p);
        p = field.next + field.value;
        const kind = wasm[p++];
        if (kind === 0) {
          p = readLeb(wasm, p).next;
        } else if (kind === 1) {
          p++; // reftype
          const flags = wasm[p++]!;
          p = readLeb(wasm, p).next;
          if (flags & 1) p = readLeb(wasm, p).next;
        } else if (kind === 2) {
          p++; // flags
          cursor = readLeb(wasm, p);
          return cursor.value;
        } else if (kind === 3) {
          p += 2;
        } else {
          break;
        }
      }
      return 0;
    }
    at = end;
  }
  return 0;
}

/** Compiles Wasm bytes. Throws {@link PolicyError} `load_failed`. */
export async function compileModule(
  wasm: Uint8Array,
  wasmHash: string,
  unit: string,
): Promise<CompiledModule> {
  try {
    const module = await wasmApi.compile(wasm);
    return {
      module,
      minPages: Math.max(2, importedMemoryMinPages(wasm)),
      wasmHash,
      bytes: wasm.byteLength,
    };
  } catch (cause) {
    throw new PolicyError(
      'load_failed',
      `${unit}: cannot compile the Wasm module: ${describeThrown(cause)}`,
      {
        unit,
        cause,
      },
    );
  }
}

function dumpJson(policy: LoadedPolicy, exports: AbiExports, addr: number): unknown {
  const at = exports.opa_json_dump(addr);
  const memory = new Uint8Array(policy.mem.buffer);
  const end = memory.indexOf(0, at);
  return JSON.parse(new TextDecoder().decode(memory.subarray(at, end)));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Instantiates a module for filling with data. Throws {@link PolicyError} `load_failed`. */
export async function instantiateHost(
  compiled: CompiledModule,
  builtins: Readonly<Record<string, JsBuiltin>>,
  unit: string,
): Promise<HostBuilder> {
  let policy: LoadedPolicy;
  let exports: AbiExports;
  let imported: string[];
  try {
    // A copy, because opa-wasm's signature wants a mutable record.
    policy = await loadPolicy(
      compiled.module as Parameters<typeof loadPolicy>[0],
      { initial: compiled.minPages },
      { ...builtins },
    );
    const instance =
      'instance' in policy.wasmInstance ? policy.wasmInstance.instance : policy.wasmInstance;
    exports = instance.exports as unknown as AbiExports;
    imported = Object.keys(dumpJson(policy, exports, exports.builtins()) as Record<string, number>);
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
  if ((policy as unknown as { minorVersion?: number }).minorVersion! < 2) {
    throw new PolicyError(
      'load_failed',
      `${unit}: the Wasm module uses an OPA ABI older than 1.2`,
      { unit },
    );
  }
  const entrypoints = Object.freeze({ ...(policy.entrypoints as Record<string, number>) });
  const mem = policy.mem;

  return {
    entrypoints,
    builtins: imported,
    loadData(data) {
      const bytes = encoder.encode(JSON.stringify(data ?? {}));
      const addr = exports.opa_malloc(bytes.byteLength);
      new Uint8Array(mem.buffer).set(bytes, addr);
      const parsed = exports.opa_json_parse(addr, bytes.byteLength);
      if (parsed === 0)
        throw new PolicyError('load_failed', `${unit}: the module could not parse the data`, {
          unit,
        });
      return parsed;
    },
    seal() {
      // Everything below this address (data documents) survives; each evaluation starts here.
      const top = exports.opa_heap_ptr_get();
      return {
        entrypoints,
        builtins: imported,
        evaluate(slot, input) {
          const end = top + input.byteLength;
          const missing = end - mem.buffer.byteLength;
          if (missing > 0) mem.grow(Math.ceil(missing / 65_536));
          new Uint8Array(mem.buffer).set(input, top);
          const result = exports.opa_eval(
            0,
            slot.entrypoint,
            slot.dataAddr,
            top,
            input.byteLength,
            end,
            0,
          );
          const memory = new Uint8Array(mem.buffer);
          const stop = memory.indexOf(0, result);
          return JSON.parse(decoder.decode(memory.subarray(result, stop)));
        },
      };
    },
  };
}
