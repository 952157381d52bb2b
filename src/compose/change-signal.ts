// A subscription point for "the policies in force changed", until the policy engine offers its own `onChange()`.

/** Listeners subscribe and get an unsubscribe function; `emit()` calls each one. */
export interface ChangeSignal {
  /** Adds `listener`; the returned function removes it again. */
  subscribe(listener: () => void): () => void;
  emit(): void;
}

export function createChangeSignal(): ChangeSignal {
  const listeners = new Set<() => void>();
  return {
    subscribe(listener) {
      // Wrapped, so one listener subscribed twice is two subscriptions, each removable on its own.
      const entry = () => listener();
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
    emit() {
      for (const listener of listeners) listener();
    },
  };
}
