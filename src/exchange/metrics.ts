// Prometheus instruments for token exchange, registered on the sidecar's registry and fed through the exchanger's observer.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ExchangeObserver } from './exchanger.js';

/** Registers the exchange metrics on `registry` and returns the observer that feeds them. */
export function createExchangeMetrics(registry: Registry): ExchangeObserver {
  const registers = [registry];
  const exchanges = new Counter({
    name: 'mandate_exchanges_total',
    help: 'Token exchanges by outcome (issued, denied, as_*) and cache result (hit, miss, shared, none).',
    labelNames: ['outcome', 'cache'],
    registers,
  });
  const duration = new Histogram({
    name: 'mandate_exchange_duration_seconds',
    help: 'Time to answer one token exchange (gating decision included), seconds.',
    labelNames: ['cache'],
    buckets: [0.00005, 0.0001, 0.00025, 0.001, 0.005, 0.025, 0.1, 0.5, 2, 5],
    registers,
  });
  const asRequests = new Counter({
    name: 'mandate_exchange_as_requests_total',
    help: 'Calls to the authorization server by grant (token_exchange, client_credentials) and result.',
    labelNames: ['grant', 'result'],
    registers,
  });
  return {
    exchange(outcome, cache, seconds) {
      exchanges.inc({ outcome, cache });
      duration.observe({ cache }, seconds);
    },
    asCall(grant, result) {
      asRequests.inc({ grant, result });
    },
  };
}
