// Aggregates component statuses into one readiness answer for /ready and gRPC health.
import { isReady, type ComponentStatus } from './lifecycle.js';

export interface ReadinessReport {
  readonly ready: boolean;
  /** Non-empty while the sidecar is shutting down. */
  readonly draining: boolean;
  readonly components: Readonly<Record<string, ComponentStatus>>;
}

export interface Readiness {
  report(): ReadinessReport;
  /** Marks the sidecar as draining: not ready from now on, whatever the components say. */
  drain(): void;
}

/** `components` by name, or a function giving them (read at every report: a list that grows). */
export function createReadiness(
  components:
    | Readonly<Record<string, { status(): ComponentStatus }>>
    | (() => Readonly<Record<string, { status(): ComponentStatus }>>),
): Readiness {
  const current = typeof components === 'function' ? components : () => components;
  let draining = false;
  return {
    report() {
      const statuses: Record<string, ComponentStatus> = {};
      let ready = !draining;
      for (const [name, component] of Object.entries(current())) {
        const status = component.status();
        statuses[name] = status;
        if (!isReady(status)) ready = false;
      }
      return { ready, draining, components: statuses };
    },
    drain() {
      draining = true;
    },
  };
}
