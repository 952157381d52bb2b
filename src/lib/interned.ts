// The cached-token contract, named: an interned object is frozen and shared by every decision about one cached token, so work derived from it may be kept against its identity.
//
// The verified-token cache hands every hit the same claims object; the pipeline makes one subject
// per such claims; audit and the adapters keep JSON and pre-encoded answers per subject and
// claims. They all rely on one rule: an interned object never changes, and only objects that stand
// for a cached token are interned. Freezing is how the rule is kept, `isInterned` how it is read.

/** Interns `value` (freezes it, shallowly) and returns it. */
export function intern<T extends object>(value: T): T {
  return Object.freeze(value);
}

/**
 * Interns `root` and every object and array under it. Iterative, so a pathologically nested tree
 * cannot overflow the stack; cheap for a freshly parsed token (a few dozen values).
 */
export function internTree<T extends object>(root: T): T {
  const pending: object[] = [root];
  for (let value = pending.pop(); value !== undefined; value = pending.pop()) {
    Object.freeze(value);
    for (const child of Object.values(value)) {
      if (typeof child === 'object' && child !== null) pending.push(child as object);
    }
  }
  return root;
}

/** True for an interned object: it will never change, so what is derived from it may be kept for it. */
export function isInterned(value: unknown): value is object {
  return typeof value === 'object' && value !== null && Object.isFrozen(value);
}
