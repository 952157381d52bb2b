// A sidecar process (under GC pressure) whose decision-log collector accepts uploads and never answers.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  POLICY_CACHE_DIR,
  isReady,
  killSidecarProcesses,
  startChildSidecar,
  timedCheck,
} from '../helpers/sidecar-process.js';
import { startFaultyServer } from '../helpers/faulty-server.js';
import { POLICIES_DIR } from '../helpers/sidecar.js';
import { createJwksServerFor } from './fault-keys.js';

afterAll(() => killSidecarProcesses());

function spoolBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

describe('a hanging audit collector', { timeout: 300_000 }, () => {
  it('checks answer at once, records wait in the spool, uploads retry at their deadline, all land on recovery; SIGTERM exits 0', async () => {
    const events: Record<string, unknown>[] = [];
    const collector = await startFaultyServer(
      (_req, res, body) => {
        events.push(
          ...(JSON.parse(gunzipSync(body).toString('utf8')) as Record<string, unknown>[]),
        );
        res.writeHead(200).end();
      },
      { kind: 'hang' },
    );
    const keys = await createJwksServerFor();
    try {
      const sidecar = await startChildSidecar(`
issuers: [${keys.issuerYaml}]
policies: { dir: "${POLICIES_DIR}", cache_dir: "${POLICY_CACHE_DIR}" }
audit:
  sinks:
    - driver: http
      url: "${collector.url}/logs"
      timeout_ms: 500
      batch_max_delay_ms: 50
      backoff_min_ms: 50
      backoff_max_ms: 200
      spool: { dir: spool }
`);
      const token = await keys.token('acme_inc');
      const ids: unknown[] = [];
      for (let i = 0; i < 20; i++) {
        const check = await timedCheck(sidecar, token);
        expect(check.body['allow']).toBe(true);
        expect(check.ms).toBeLessThan(3000);
        ids.push(check.body['decision_id']);
      }
      // Each upload is cut at its 500 ms deadline and retried: the sink is not stuck on one.
      const before = collector.requests;
      await vi.waitFor(() => expect(collector.requests).toBeGreaterThanOrEqual(before + 3), {
        timeout: 15_000,
      });
      expect(collector.hanging).toBeLessThanOrEqual(1);
      expect(spoolBytes(join(sidecar.dir, 'spool'))).toBeGreaterThan(0);
      expect(await isReady(sidecar)).toBe(true); // WARN: collector unreachable, records spooled

      collector.set({ kind: 'serve' });
      await vi.waitFor(
        () => expect(events.map((e) => e['decision_id'])).toEqual(expect.arrayContaining(ids)),
        { timeout: 20_000 },
      );

      collector.set({ kind: 'hang' });
      for (let i = 0; i < 5; i++) await timedCheck(sidecar, token);
      await vi.waitFor(() => expect(collector.hanging).toBe(1), { timeout: 10_000 });
      const { code, ms } = await sidecar.stop('SIGTERM');
      expect(code).toBe(0);
      // audit.shutdown_flush_ms (3 s) is spent trying to deliver, then the rest stays spooled.
      // Exit 0 rules out the forced exit (15 s, code 1); the bound leaves room for a slow machine.
      const shutdown = sidecar
        .logs()
        .slice(-8)
        .map((r) => [r['time'], r['msg']]);
      expect(ms, JSON.stringify(shutdown)).toBeLessThan(12_000);
      expect(spoolBytes(join(sidecar.dir, 'spool'))).toBeGreaterThan(0);
    } finally {
      await collector.close();
      await keys.close();
    }
  });
});
