// Prometheus gauges for the revocation store, read from it at scrape time so the hot path never touches them.
import { Gauge, type Registry } from 'prom-client';
import type { RevocationStore } from './types.js';

export function registerRevocationMetrics(registry: Registry, store: RevocationStore): void {
  new Gauge({
    name: 'mandate_revocation_entries',
    help: 'Revocation entries held in the local index (expired ones until the next sweep).',
    registers: [registry],
    collect() {
      this.set(store.size());
    },
  });
  new Gauge({
    name: 'mandate_revocation_store_up',
    help: '1 while the revocation store is fully in sync (Redis connected and synced), else 0 (degraded).',
    labelNames: ['driver'],
    registers: [registry],
    collect() {
      this.set({ driver: store.driver }, store.status().state === 'OK' ? 1 : 0);
    },
  });
}
