// Collapses concurrent identical calls into one: the first caller runs it, the others share its promise.

export interface SingleFlight<T> {
  /** Runs `work` unless a call with this key is in flight; `shared` is true for callers that joined one. */
  run(key: string, work: () => Promise<T>): Promise<{ value: T; shared: boolean }>;
  /** Keys in flight right now. */
  size(): number;
}

export function createSingleFlight<T>(): SingleFlight<T> {
  const inFlight = new Map<string, Promise<T>>();
  return {
    async run(key, work) {
      const pending = inFlight.get(key);
      if (pending) return { value: await pending, shared: true };
      // Deleted when settled, success or failure: a failure is not remembered, the next call tries again.
      const promise = work().finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      return { value: await promise, shared: false };
    },
    size: () => inFlight.size,
  };
}
