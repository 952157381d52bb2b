// A bounded map for per-request caches: a hit is one Map look-up and one flag store, eviction is second-chance (CLOCK).
//
// An exact LRU reorders its list on every hit; on the decision path that bookkeeping costs more
// than the look-up. CLOCK approximates LRU: a hit only marks the entry's slot, and a hand sweeping
// round the slots gives marked entries a second chance (it clears the mark) and evicts the first
// unmarked one. The slots are arrays, not the Map's insertion order: taking the oldest Map entry
// after many deletions walks over every deleted one first, which made each eviction cost
// microseconds.

/**
 * The second-chance hand over a fixed number of slots: a hit marks its slot; a victim is the first
 * unmarked slot the hand reaches, clearing the marks it passes. Shared by the caches that keep
 * their own index of slots.
 */
export class ClockHand {
  readonly #max: number;
  readonly #used: Uint8Array;
  #hand = 0;

  constructor(slots: number) {
    if (!Number.isInteger(slots) || slots < 1) {
      throw new TypeError('maxEntries must be a positive integer');
    }
    this.#max = slots;
    this.#used = new Uint8Array(slots);
  }

  /** A hit: this slot gets a second chance. */
  mark(slot: number): void {
    this.#used[slot] = 1;
  }

  /** A slot newly filled: no second chance until it is hit. */
  unmark(slot: number): void {
    this.#used[slot] = 0;
  }

  /** The slot to evict. Terminates within two sweeps: the first clears every mark it passes. */
  victim(): number {
    while (this.#used[this.#hand] === 1) {
      this.#used[this.#hand] = 0;
      this.#hand = (this.#hand + 1) % this.#max;
    }
    const victim = this.#hand;
    this.#hand = (this.#hand + 1) % this.#max;
    return victim;
  }

  reset(): void {
    this.#used.fill(0);
    this.#hand = 0;
  }
}

export class ClockCache<K, V> {
  readonly #max: number;
  readonly #index = new Map<K, number>();
  readonly #keys: (K | undefined)[] = [];
  readonly #values: (V | undefined)[] = [];
  readonly #hand: ClockHand;
  /** Slots emptied by delete(), reused before the hand evicts anything. */
  readonly #free: number[] = [];

  constructor(maxEntries: number) {
    this.#hand = new ClockHand(maxEntries);
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#index.size;
  }

  get(key: K): V | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined) return undefined;
    this.#hand.mark(slot);
    return this.#values[slot];
  }

  set(key: K, value: V): void {
    const existing = this.#index.get(key);
    if (existing !== undefined) {
      this.#values[existing] = value;
      this.#hand.mark(existing);
      return;
    }
    const slot = this.#freeSlot();
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#hand.unmark(slot);
    this.#index.set(key, slot);
  }

  delete(key: K): void {
    const slot = this.#index.get(key);
    if (slot === undefined) return;
    this.#index.delete(key);
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    this.#free.push(slot);
  }

  clear(): void {
    this.#index.clear();
    this.#keys.length = 0;
    this.#values.length = 0;
    this.#hand.reset();
    this.#free.length = 0;
  }

  /** A slot for a new entry: a never-used one, a deleted one, or the hand's victim. */
  #freeSlot(): number {
    if (this.#keys.length < this.#max) return this.#keys.length;
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const victim = this.#hand.victim();
    this.#index.delete(this.#keys[victim] as K);
    return victim;
  }
}
