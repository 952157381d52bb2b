// What a cached token's plain allow answer holds besides its decision id, made once per subject and deciding layer.
import type { Decision, Subject } from '../core/decision.js';
import { isInterned } from '../lib/interned.js';

/**
 * Returns a look-up that gives, for an allow with no reasons whose subject is interned (one Subject
 * per cached token), `make(subject, decidedBy)` made on first use and kept while the subject
 * lives; undefined for any other decision, which the adapter answers the general way.
 */
export function cachedAllowParts<T>(
  make: (subject: Subject, decidedBy: string | undefined) => T,
): (decision: Decision) => T | undefined {
  const bySubject = new WeakMap<Subject, Map<string | undefined, T>>();
  return (decision) => {
    const s = decision.subject;
    if (!decision.allow || decision.reasons.length > 0 || s === undefined || !isInterned(s)) {
      return undefined;
    }
    let byLayer = bySubject.get(s);
    if (byLayer === undefined) {
      byLayer = new Map();
      bySubject.set(s, byLayer);
    }
    let parts = byLayer.get(decision.decidedBy);
    if (parts === undefined) {
      parts = make(s, decision.decidedBy);
      byLayer.set(decision.decidedBy, parts);
    }
    return parts;
  };
}
