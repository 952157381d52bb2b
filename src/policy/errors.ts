// Why a policy unit could not be prepared: one error class with a stable code callers can switch on.

/** Every way preparing a policy unit can fail. */
export type PolicyErrorCode =
  /** No `opa` binary was found, or it would not run. */
  | 'opa_not_found'
  /** `opa build` rejected the Rego (parse, type or safety errors, missing entrypoint). */
  | 'compile_failed'
  /** The bundle `opa build` wrote is not what we expect (no policy.wasm, bad tar/gzip, bad data). */
  | 'bundle_invalid'
  /** The Wasm module needs a builtin nobody implements in this runtime. */
  | 'unsupported_builtin'
  /** The unit's directory or files could not be read, or it holds no Rego. */
  | 'unit_invalid'
  /** Instantiating the Wasm module or loading its data failed. */
  | 'load_failed'
  /** A bundle's `.signatures.json` is missing, does not verify, or does not cover its files. */
  | 'signature_invalid'
  /** A bundle could not be fetched from its server (and none is active or persisted). */
  | 'download_failed';

/** One compiler complaint, as `opa` prints it: `file:line: kind: text`. */
export interface CompileProblem {
  /** Path as opa printed it: relative to the policy directory, e.g. `tenants/acme_inc/policy.rego`. */
  readonly file: string;
  readonly line: number;
  /** opa's error kind, e.g. `rego_parse_error`, `rego_type_error`. */
  readonly kind: string;
  readonly text: string;
}

export interface PolicyErrorDetails {
  /** The unit concerned: `base` or `tenant:<id>`. */
  readonly unit?: string;
  /** Compiler problems, for `compile_failed`. */
  readonly problems?: readonly CompileProblem[];
  /** Builtins the module needs but nobody provides, for `unsupported_builtin`. */
  readonly builtins?: readonly string[];
  readonly cause?: unknown;
}

/** The one error type of the policy room. Messages name files and builtins, never request data. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly code: PolicyErrorCode;
  readonly unit: string | undefined;
  readonly problems: readonly CompileProblem[];
  readonly builtins: readonly string[];

  constructor(code: PolicyErrorCode, message: string, details: PolicyErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.unit = details.unit;
    this.problems = details.problems ?? [];
    this.builtins = details.builtins ?? [];
  }
}

/** A readable one-liner for anything thrown, including the plain objects and strings opa-wasm throws. */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  if (typeof thrown === 'string') return thrown;
  if (typeof thrown === 'object' && thrown !== null && 'message' in thrown) {
    return String((thrown as { message: unknown }).message);
  }
  return String(thrown);
}
