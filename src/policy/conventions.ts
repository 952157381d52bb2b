// The Rego conventions every policy unit follows: where its files live, its package, its entrypoint, its data.
//
// A policy directory (config `policies.dir`, default ./policies) holds:
//
//   base/                      required; applied to every request
//     *.rego                   `package mandate.base`
//     data.json                optional data; as opa loads it, every *.json / *.yaml / *.yml in the
//                              unit is data, merged at its folder's path (sub/x.json → data.sub)
//     *_test.rego              `opa test` unit tests; never compiled into the Wasm module
//   tenants/<tenant>/          optional; one directory per tenant id (the token's tenant claim)
//     *.rego                   `package mandate.tenant` (the same package in every tenant)
//     data.json, *_test.rego   as for base
//
// Units: base and each tenant are separate units. Each is compiled from its own folder only, so a
// tenant's Rego cannot see or redefine base rules or another tenant's rules, and `opa test <unit dir>`
// tests exactly what will be compiled. For scale, tenants are compiled several to one Wasm module
// (pack-rewrite.ts moves each into a package of its own and proves it refers to nothing but its own
// package and data; one that does not is compiled alone); each keeps its own data document.
//
// Decision: each unit defines `decision` in its package, so the entrypoints are `mandate/base/decision`
// and `mandate/tenant/decision`. `decision` must be an object
//   {"allow": <boolean>, "reasons": [{"code": <string>, "message": <string>}, ...]}
// Anything else (undefined, not an object, `allow` not a boolean) is a deny with `policy_denied`
// "policy produced no decision". A deny without usable reasons gets one `policy_denied` reason.
// Codes outside mandate's closed set are mapped to `policy_denied` by the pipeline, not here.
//
// Data: the unit's data files are mounted at the root of that unit's `data` document, exactly as
// `opa build` / `opa test <unit dir>` load them (`base/data.json` → `data.scope_grants`, ...), merged by
// data-files.ts (never compiled in, so a data-only change needs no compile) and loaded into the unit's
// Wasm instance at an address of its own. The top-level key `mandate` is reserved for the policy
// packages. Base data is not visible to tenants (and vice versa): a tenant that needs a value keeps
// its own copy.
//
// Input: every unit sees the same input document, built by the pipeline:
//   { action, resource?: {type, id?, attributes?}, tenant?, context, subject: {sub?, tenant?, client_id?,
//     scopes, act, issuer?}, claims, transport }
// `subject.act` lists actor subjects, outermost (current actor) first.
//
// Combination: allow = base.allow AND (tenant has no unit OR tenant.allow). Base is evaluated first
// and a base deny short-circuits. A tenant whose unit failed to compile or load fails closed: its
// requests are denied (never decided by base alone) until its policy is fixed.
//
// Builtins: `time.now_ns` is provided by mandate and is fixed for one evaluate() call (both layers
// see the same instant; the clock is read on first use). Wasm's own `format_int` fails on values of
// 2^31 and more, so compare timestamps rather than print them. Every compile uses a capabilities file
// narrowed to the builtins the runtime has (runtime-builtins.ts), so any other builtin is a compile
// error naming file and line; a bundle's module importing one is rejected when it is loaded.

/** The two kinds of policy unit. */
export type UnitKind = 'base' | 'tenant';

/** Folder of the base unit, relative to the policy directory. */
export const BASE_DIR = 'base';

/** Folder holding one sub-folder per tenant, relative to the policy directory. */
export const TENANTS_DIR = 'tenants';

/** The Rego package of each kind of unit. */
export const UNIT_PACKAGE: Readonly<Record<UnitKind, string>> = {
  base: 'mandate.base',
  tenant: 'mandate.tenant',
};

/** The `opa build -e` entrypoint of each kind of unit: `<package path>/decision`. */
export const UNIT_ENTRYPOINT: Readonly<Record<UnitKind, string>> = {
  base: 'mandate/base/decision',
  tenant: 'mandate/tenant/decision',
};

/** Files `opa build` must skip: Rego unit tests, and hidden files (editor swap files, .manifest). */
export const IGNORED_FILE_PATTERNS: readonly string[] = ['*_test.rego', '.*'];

/** Top-level data key that would shadow the policy packages. */
export const RESERVED_DATA_KEY = 'mandate';

/** True for files that make up a unit's behaviour (and so its revision): Rego sources and data. */
export function isUnitSourceFile(name: string): boolean {
  if (name.startsWith('.') || name.endsWith('_test.rego')) return false;
  return /\.(rego|json|ya?ml)$/.test(name);
}
