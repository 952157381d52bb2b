// The component contract shared by every long-lived part: start, stop, and a status for /ready.

/** Readiness of one component, mirroring OPA's component states. */
export type ComponentState = 'NOT_READY' | 'OK' | 'WARN' | 'ERROR';

export interface ComponentStatus {
  readonly state: ComponentState;
  /** Human-readable detail; never contains token material. */
  readonly message?: string;
  /** Extra machine-readable detail (e.g. per-issuer or per-tenant state). */
  readonly detail?: Record<string, unknown>;
}

export interface Component {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ComponentStatus;
}

/** A component is ready when its state is OK or WARN (serving, with a caveat). */
export function isReady(status: ComponentStatus): boolean {
  return status.state === 'OK' || status.state === 'WARN';
}
