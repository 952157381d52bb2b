// The host builtins mandate adds for OPA-Envoy policies (compatibility mode), and the builtins it refuses.
import type { JsBuiltin } from '../builtins.js';
import { isRuntimeBuiltin } from '../runtime-builtins.js';
import { createCryptoBuiltins } from './crypto.js';
import type { HostContext } from './host-builtin.js';
import { createJwtBuiltins } from './jwt.js';
import { createNetBuiltins } from './net.js';
import { createTimeBuiltins } from './time.js';
import { createUnitsBuiltins } from './units.js';
import { createUrlQueryBuiltins } from './urlquery.js';
import { createUuidBuiltins } from './uuid.js';

export type { HostContext } from './host-builtin.js';

/** Creates every host builtin over one context; each call has its own verification caches. */
export function createHostBuiltins(context: HostContext): Record<string, JsBuiltin> {
  return {
    ...createJwtBuiltins(context),
    ...createCryptoBuiltins(),
    ...createUrlQueryBuiltins(),
    ...createTimeBuiltins(),
    ...createNetBuiltins(),
    ...createUnitsBuiltins(),
    ...createUuidBuiltins(context),
  };
}

/** Names of the host builtins (without a context: for capabilities and docs). */
export const HOST_BUILTIN_NAMES: readonly string[] = Object.keys(
  createHostBuiltins({ nowNs: () => 0n, decision: () => 0 }),
).sort();

const HOST = new Set(HOST_BUILTIN_NAMES);

/** True when a compatibility-mode policy may call `name`: a runtime builtin or a host builtin. */
export function isCompatBuiltin(name: string): boolean {
  return isRuntimeBuiltin(name) || HOST.has(name);
}
