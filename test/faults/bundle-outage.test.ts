// A sidecar process (under GC pressure) whose tenant bundle server accepts connections and never answers.
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  POLICY_CACHE_DIR,
  killSidecarProcesses,
  startChildSidecar,
  timedCheck,
} from '../helpers/sidecar-process.js';
import { startFaultyServer } from '../helpers/faulty-server.js';
import { createJwksServerFor } from './fault-keys.js';
import { POLICIES_DIR } from '../helpers/sidecar.js';

afterAll(() => killSidecarProcesses());

describe('a hanging bundle server', { timeout: 300_000 }, () => {
  it('start-up does not wait on it, other tenants are served, polls go on at their deadline, SIGTERM exits 0', async () => {
    const bundles = await startFaultyServer((_req, res) => res.writeHead(404).end(), {
      kind: 'hang',
    });
    const keys = await createJwksServerFor();
    try {
      const sidecar = await startChildSidecar(`
issuers: [${keys.issuerYaml}]
policies:
  dir: "${POLICIES_DIR}"
  cache_dir: "${POLICY_CACHE_DIR}"
  bundles:
    tenants/initech:
      url: "${bundles.url}/bundles/initech.tar.gz"
      timeout_ms: 500
      persist: false
      polling: { min_delay_seconds: 1, max_delay_seconds: 2 }
audit: { sink: none }
`);
      const allowed = await timedCheck(sidecar, await keys.token('acme_inc'));
      expect(allowed.body['allow']).toBe(true);
      expect(allowed.ms).toBeLessThan(3000);
      // initech's bundle never arrived: its checks fail closed, and answer at once.
      const closed = await timedCheck(sidecar, await keys.token('initech'), {
        action: 'tickets.comment',
        resource: { type: 'ticket', id: 'T-1' },
        tenant: 'initech',
      });
      expect(closed.body['allow']).toBe(false);
      expect(closed.ms).toBeLessThan(3000);

      // Each poll is cut at its 500 ms deadline and the next one follows: the poller is not stuck.
      const before = bundles.requests;
      await vi.waitFor(() => expect(bundles.requests).toBeGreaterThanOrEqual(before + 3), {
        timeout: 15_000,
      });
      expect(bundles.hanging).toBeLessThanOrEqual(1);

      await vi.waitFor(() => expect(bundles.hanging).toBe(1), { timeout: 10_000 });
      const { code, ms } = await sidecar.stop('SIGTERM');
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
    } finally {
      await bundles.close();
      await keys.close();
    }
  });
});
