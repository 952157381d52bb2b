// Remembers policy outcomes for inputs derived from one immutable owner (a verified token's claims), so a repeated question skips Wasm.
//
// An input is fully determined by its owner object plus a key string the caller builds (the action,
// the resource, the context, ...). Owners are told apart by identity: each gets a number the first
// time it is seen, so the bounded cache can hold plain string keys and an owner that is garbage
// collected simply stops being asked for. Entries remember which units answered; the engine serves
// one only while those very units are still the ones in force.
import { ClockCache } from '../lib/clock-cache.js';
import type { PolicyOutcome } from './types.js';

/** What identifies one cacheable input. */
export interface PolicyCacheKey {
  /** An immutable object the whole input was derived from (never mutated after this call). */
  readonly owner: object;
  /** Everything else the input depends on, injectively encoded. */
  readonly key: string;
}

export interface CachedOutcome {
  readonly tenant: string | undefined;
  /** The unit entries (base, tenant) in force when it was evaluated. */
  readonly baseEntry: object;
  readonly tenantEntry: object | undefined;
  /** Frozen, with `cached: true`. */
  readonly outcome: PolicyOutcome;
}

export interface DecisionCache {
  get(key: PolicyCacheKey): CachedOutcome | undefined;
  set(key: PolicyCacheKey, entry: CachedOutcome): void;
  /** Drops everything (policy reloads need not call it: entries check their units). */
  clear(): void;
}

export function createDecisionCache(maxEntries: number): DecisionCache | undefined {
  if (maxEntries <= 0) return undefined;
  const entries = new ClockCache<string, CachedOutcome>(maxEntries);
  let ids = new WeakMap<object, number>();
  let nextId = 0;
  const idOf = (owner: object): number | undefined => ids.get(owner);
  return {
    get(key) {
      const id = idOf(key.owner);
      return id === undefined ? undefined : entries.get(`${id}:${key.key}`);
    },
    set(key, entry) {
      let id = idOf(key.owner);
      if (id === undefined) {
        id = ++nextId;
        ids.set(key.owner, id);
      }
      entries.set(`${id}:${key.key}`, entry);
    },
    clear() {
      entries.clear();
      ids = new WeakMap();
    },
  };
}
