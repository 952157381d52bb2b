// The one list of Rego builtins a policy may use in mandate: Wasm-native, opa-wasm's JS, and mandate's own.
//
// It feeds both the capabilities file `mandate policy check` and every compile use (so an unsupported
// builtin is a compile error naming file and line) and the load-time check of modules compiled
// elsewhere (bundles), which may only import the host-provided builtins.

/**
 * Builtins the Wasm module of opa 1.22.3 implements itself: a module using only these imports no
 * builtin from the host. Found empirically: every builtin of `opa capabilities --current` was
 * compiled alone with `opa build -t wasm` and the module's `builtins` export read back; those that
 * came back empty are listed, plus the unification operators `eq` and `assign`. Builtins that are
 * deprecated (rejected by Rego v1) are absent. Re-derive this list when the pinned opa is bumped;
 * test/policy/runtime-builtins.test.ts checks a sample of it against the real compiler.
 */
export const WASM_NATIVE_BUILTINS: readonly string[] = [
  'abs',
  'and',
  'array.concat',
  'array.flatten',
  'array.reverse',
  'array.slice',
  'assign',
  'base64.decode',
  'base64.encode',
  'base64.is_valid',
  'base64url.decode',
  'base64url.encode',
  'bits.and',
  'bits.lsh',
  'bits.negate',
  'bits.or',
  'bits.rsh',
  'bits.xor',
  'ceil',
  'concat',
  'contains',
  'count',
  'div',
  'endswith',
  'eq',
  'equal',
  'floor',
  'format_int',
  'glob.match',
  'graph.reachable',
  'gt',
  'gte',
  'indexof',
  'internal.member_2',
  'internal.member_3',
  'internal.print',
  'internal.template_string',
  'intersection',
  'is_array',
  'is_boolean',
  'is_null',
  'is_number',
  'is_object',
  'is_set',
  'is_string',
  'json.filter',
  'json.is_valid',
  'json.marshal',
  'json.remove',
  'json.unmarshal',
  'lower',
  'lt',
  'lte',
  'max',
  'min',
  'minus',
  'mul',
  'neq',
  'net.cidr_contains',
  'net.cidr_intersects',
  'numbers.range',
  'object.filter',
  'object.get',
  'object.keys',
  'object.remove',
  'object.union',
  'object.union_n',
  'or',
  'plus',
  'print',
  'product',
  'regex.find_all_string_submatch_n',
  'regex.is_valid',
  'regex.match',
  'rego.metadata.chain',
  'rego.metadata.rule',
  'rem',
  'replace',
  'round',
  'sort',
  'split',
  'startswith',
  'strings.replace_n',
  'strings.reverse',
  'substring',
  'sum',
  'to_number',
  'trim',
  'trim_left',
  'trim_prefix',
  'trim_right',
  'trim_space',
  'trim_suffix',
  'type_name',
  'union',
  'upper',
  'walk',
];

/**
 * Builtins opa-wasm 1.10 implements in JS itself (its `src/builtins`). The package does not export
 * this list, so it is pinned here; a newer opa-wasm adding one only makes us stricter than needed.
 */
export const OPA_WASM_JS_BUILTINS: readonly string[] = [
  'json.is_valid',
  'regex.split',
  'sprintf',
  'yaml.is_valid',
  'yaml.marshal',
  'yaml.unmarshal',
];

/** Builtins mandate itself hands to every module (see builtins.ts). */
export const MANDATE_BUILTINS: readonly string[] = ['time.now_ns'];

const RUNTIME = new Set([...WASM_NATIVE_BUILTINS, ...OPA_WASM_JS_BUILTINS, ...MANDATE_BUILTINS]);

/** True when a policy may call `name` in mandate (natively, or through a host implementation). */
export function isRuntimeBuiltin(name: string): boolean {
  return RUNTIME.has(name);
}

/** True when a module may import `name` from the host: opa-wasm's JS builtins and mandate's own. */
export function isHostBuiltin(name: string): boolean {
  return OPA_WASM_JS_BUILTINS.includes(name) || MANDATE_BUILTINS.includes(name);
}
