// Counters and histograms for the per-decision path: label values are bound once, so recording is a plain number update.
//
// prom-client's instruments validate and hash their labels on every call, even through `labels()`
// children; that is a measurable part of a cached-token check. These keep one record per label
// combination and hand prom-client's registry the same exposition shape at scrape time.
import type { Registry } from 'prom-client';

/** One label combination of a {@link BoundCounter}. */
export interface CounterChild {
  inc(by?: number): void;
}

/** One label combination of a {@link BoundHistogram}. */
export interface HistogramChild {
  observe(value: number): void;
}

interface ExposedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Exposition {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: ExposedValue[];
  aggregator: 'sum';
}

interface Definition<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers?: readonly Registry[];
}

function labelsOf<L extends string>(
  names: readonly L[],
  values: readonly string[],
): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((name, i) => (labels[name] = values[i] as string));
  return labels;
}

function childKey(values: readonly string[]): string {
  // Label values never hold NUL in practice; a collision would only merge two series.
  return values.join('\u0000');
}

/** A monotonically increasing counter with bound children. */
export class BoundCounter<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly #labelNames: readonly L[];
  readonly #children = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(definition: Definition<L>) {
    this.name = definition.name;
    this.help = definition.help;
    this.#labelNames = definition.labelNames;
    for (const registry of definition.registers ?? []) registry.registerMetric(this as never);
  }

  /** The child for these label values (in `labelNames` order); keep it and call inc() on it. */
  labels(...values: string[]): CounterChild {
    const key = childKey(values);
    let record = this.#children.get(key);
    if (record === undefined) {
      record = { labels: labelsOf(this.#labelNames, values), value: 0 };
      this.#children.set(key, record);
    }
    const target = record;
    return {
      inc(by = 1) {
        target.value += by;
      },
    };
  }

  /** prom-client's label-object form, for callers off the hot path. */
  inc(labels: Partial<Record<L, string>>, by = 1): void {
    this.labels(...this.#labelNames.map((n) => labels[n] ?? '')).inc(by);
  }

  get(): Exposition {
    const values: ExposedValue[] = [];
    for (const { labels, value } of this.#children.values()) values.push({ labels, value });
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }

  reset(): void {
    for (const record of this.#children.values()) record.value = 0;
  }
}

interface HistogramRecord {
  readonly labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A histogram with fixed upper bounds and bound children. */
export class BoundHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  readonly #children = new Map<string, HistogramRecord>();

  constructor(definition: Definition<L> & { readonly buckets: readonly number[] }) {
    this.name = definition.name;
    this.help = definition.help;
    this.#labelNames = definition.labelNames;
    this.#bounds = [...definition.buckets].sort((a, b) => a - b);
    for (const registry of definition.registers ?? []) registry.registerMetric(this as never);
  }

  labels(...values: string[]): HistogramChild {
    const key = childKey(values);
    let record = this.#children.get(key);
    if (record === undefined) {
      record = {
        labels: labelsOf(this.#labelNames, values),
        counts: new Array<number>(this.#bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#children.set(key, record);
    }
    const target = record;
    const bounds = this.#bounds;
    return {
      observe(value) {
        // Non-finite values would poison the sum forever; they are not observations.
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        target.counts[i]!++;
        target.sum += value;
        target.count++;
      },
    };
  }

  get(): Exposition {
    const values: ExposedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const record of this.#children.values()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += record.counts[i]!;
        values.push({
          labels: { le: bound, ...record.labels },
          value: cumulative,
          metricName: bucketName,
        });
      });
      values.push({
        labels: { le: '+Inf', ...record.labels },
        value: record.count,
        metricName: bucketName,
      });
      values.push({ labels: record.labels, value: record.sum, metricName: `${this.name}_sum` });
      values.push({ labels: record.labels, value: record.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
