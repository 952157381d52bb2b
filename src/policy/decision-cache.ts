// Remembers policy outcomes for inputs derived from one immutable owner (a verified token's claims), so a repeated question skips Wasm.
//
// An input is fully determined by its owner object plus a key string the caller builds (the action,
// the resource, the context, ...). Owners are told apart by identity: each has its own index of
// keys (held weakly, so an owner that is garbage collected simply stops being asked for), and the
// key string is looked up as the caller made it, with nothing concatenated to it. One second-chance
// hand over all entries bounds the whole cache. Entries remember which units answered; the engine
// serves one only while those very units are still the ones in force.
import { ClockHand } from '../lib/clock-cache.js';
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
  const hand = new ClockHand(maxEntries);
  let indexes = new WeakMap<object, Map<string, number>>();
  /** Per slot: the owner index that points at it, its key there, and its entry. */
  let slotIndexes: Map<string, number>[] = [];
  let slotKeys: string[] = [];
  let entries: CachedOutcome[] = [];
  return {
    get(key) {
      const slot = indexes.get(key.owner)?.get(key.key);
      if (slot === undefined) return undefined;
      hand.mark(slot);
      return entries[slot];
    },
    set(key, entry) {
      let index = indexes.get(key.owner);
      if (index === undefined) {
        index = new Map();
        indexes.set(key.owner, index);
      }
      const existing = index.get(key.key);
      if (existing !== undefined) {
        entries[existing] = entry;
        hand.mark(existing);
        return;
      }
      let slot = entries.length;
      if (slot === maxEntries) {
        slot = hand.victim();
        (slotIndexes[slot] as Map<string, number>).delete(slotKeys[slot] as string);
      }
      slotIndexes[slot] = index;
      slotKeys[slot] = key.key;
      entries[slot] = entry;
      hand.unmark(slot);
      index.set(key.key, slot);
    },
    clear() {
      indexes = new WeakMap();
      slotIndexes = [];
      slotKeys = [];
      entries = [];
      hand.reset();
    },
  };
}
