// The ordered list of started components: each one started after the previous, all stopped in reverse, also when start-up fails half-way.
import type { ComponentStatus } from '../lib/lifecycle.js';

/** One long-lived part of the sidecar as the composition root starts and stops it. */
export interface ComposedComponent {
  /** Names the component in start-up errors and stop failures ("revocation", "listen.http", ...). */
  readonly name: string;
  start(): Promise<void>;
  /**
   * Releases everything the component holds (sockets, connections, timers). Called in reverse start
   * order, and also after a rejected start(), so it must be safe on a half-started component.
   * `graceMs` is what a listener may spend draining calls in flight.
   */
  stop(graceMs: number): Promise<void>;
  /** Its readiness, when it has one: /ready and gRPC health report it under `name`. */
  status?(): ComponentStatus;
}

/** The components started so far, in start order. */
export interface Lifecycle {
  /**
   * Starts `component` and appends it to the list. When its start rejects, the component itself is
   * stopped (it may hold part of what it opened) and the rejection goes on to the caller.
   */
  start(component: ComposedComponent): Promise<void>;
  /** The started components' names, in start order. */
  names(): readonly string[];
  /**
   * The started components that have a status, by name: what readiness reports. A live view,
   * so a component started later is reported from then on.
   */
  statusSources(): Readonly<Record<string, { status(): ComponentStatus }>>;
  /**
   * Stops every started component, last first. Every one is stopped even when an earlier stop
   * rejects; the first such rejection is reported after all ran. Safe to call more than once.
   */
  stop(graceMs: number): Promise<void>;
}

/** `onStopError` hears each stop that rejected (the lifecycle goes on with the next). */
export function createLifecycle(
  onStopError: (name: string, err: unknown) => void = () => {},
): Lifecycle {
  const started: ComposedComponent[] = [];
  let stopping: Promise<void> | undefined;

  async function stopOne(component: ComposedComponent, graceMs: number): Promise<unknown> {
    try {
      await component.stop(graceMs);
      return undefined;
    } catch (err) {
      onStopError(component.name, err);
      return err;
    }
  }

  return {
    async start(component) {
      if (stopping !== undefined) {
        throw new Error(`${component.name}: cannot start: the sidecar is stopping`);
      }
      try {
        await component.start();
      } catch (err) {
        await stopOne(component, 0);
        throw err;
      }
      started.push(component);
    },
    names: () => started.map((c) => c.name),
    statusSources() {
      const sources: Record<string, { status(): ComponentStatus }> = {};
      for (const component of started) {
        const status = component.status?.bind(component);
        if (status !== undefined) sources[component.name] = { status };
      }
      return sources;
    },
    stop(graceMs) {
      stopping ??= (async () => {
        let first: unknown;
        for (const component of [...started].reverse()) {
          const err = await stopOne(component, graceMs);
          first ??= err;
        }
        if (first !== undefined) throw first;
      })();
      return stopping;
    },
  };
}

/**
 * Runs a composition: `compose` starts components on the lifecycle one after another. When it
 * rejects (a component failed to start, or anything between two starts threw), every component
 * already started is stopped, last first, before the rejection goes on: nothing keeps running.
 */
export async function composeInOrder<T>(
  lifecycle: Lifecycle,
  compose: (lifecycle: Lifecycle) => Promise<T>,
): Promise<T> {
  try {
    return await compose(lifecycle);
  } catch (err) {
    // The start-up error is what the operator must read; a stop failure on the way out is secondary.
    await lifecycle.stop(0).catch(() => {});
    throw err;
  }
}
