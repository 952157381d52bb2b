// Records decision metrics through label-bound prom-client children, so the hot path skips label hashing.

/**
 * The instruments decisions are recorded in, as core needs them (metrics/registry.ts's `Metrics`
 * has them): core names what it uses instead of importing the metrics room.
 */
export interface DecisionInstruments {
  readonly decisions: { labels(...values: string[]): { inc(): void } };
  readonly decisionLatency: { labels(...values: string[]): { observe(v: number): void } };
  readonly policyEvalLatency: { labels(...values: string[]): { observe(v: number): void } };
}

export interface DecisionMetrics {
  decision(result: 'allow' | 'deny', reason: string, transport: string, latencyUs: number): void;
  policyEval(layer: 'base' | 'tenant' | 'compat', evalNs: number): void;
}

const NOOP: DecisionMetrics = { decision() {}, policyEval() {} };

/** Children are cached per label combination; reason codes and transports are closed sets, so this stays small. */
export function createDecisionMetrics(metrics: DecisionInstruments | undefined): DecisionMetrics {
  if (metrics === undefined) return NOOP;
  // By transport, then result and reason: look-ups of the caller's own strings, no key to build.
  const counters = new Map<string, Map<string, { inc(): void }>>();
  const latencies = new Map<string, { observe(v: number): void }>();
  const evals = new Map<string, { observe(v: number): void }>();
  return {
    decision(result, reason, transport, latencyUs) {
      let byReason = counters.get(transport);
      if (byReason === undefined) {
        byReason = new Map();
        counters.set(transport, byReason);
      }
      // The usual allow (reason `none`) builds no key string.
      const key = result === 'allow' && reason === 'none' ? '' : `${result}|${reason}`;
      let counter = byReason.get(key);
      if (counter === undefined) {
        counter = metrics.decisions.labels(result, reason, transport);
        byReason.set(key, counter);
      }
      counter.inc();
      let latency = latencies.get(transport);
      if (latency === undefined) {
        latency = metrics.decisionLatency.labels(transport);
        latencies.set(transport, latency);
      }
      latency.observe(latencyUs / 1e6);
    },
    policyEval(layer, evalNs) {
      let histogram = evals.get(layer);
      if (histogram === undefined) {
        histogram = metrics.policyEvalLatency.labels(layer);
        evals.set(layer, histogram);
      }
      histogram.observe(evalNs / 1e9);
    },
  };
}
