// A bounded map for per-request caches: a hit is one Map look-up and one flag store, eviction is second-chance (CLOCK).
//
// An exact LRU reorders its list on every hit; on the decision path that bookkeeping costs more
// than the look-up. CLOCK approximates LRU: a hit only marks the entry, and eviction walks from
// the oldest insertion, giving marked entries a second chance (unmarked, moved to the back)
// before dropping the first unmarked one.

interface Slot<V> {
  value: V;
  used: boolean;
}

export class ClockCache<K, V> {
  readonly #max: number;
  readonly #slots = new Map<K, Slot<V>>();

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError('maxEntries must be a positive integer');
    }
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(key: K): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) {
      slot.value = value;
      slot.used = true;
      return;
    }
    if (this.#slots.size >= this.#max) this.#evictOne();
    this.#slots.set(key, { value, used: false });
  }

  delete(key: K): void {
    this.#slots.delete(key);
  }

  clear(): void {
    this.#slots.clear();
  }

  #evictOne(): void {
    // Terminates: each pass either evicts or clears a mark, and marks are only set by hits.
    for (;;) {
      const oldest = this.#slots.entries().next();
      if (oldest.done === true) return;
      const [key, slot] = oldest.value;
      this.#slots.delete(key);
      if (!slot.used) return;
      slot.used = false;
      this.#slots.set(key, slot);
    }
  }
}
