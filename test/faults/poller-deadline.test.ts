// The bundle poller against a real bundle server that never answers, with garbage collections meanwhile.
import { afterEach, describe, expect, it } from 'vitest';
import { createBundlePoller } from '../../src/policy/bundle-poller.js';
import { collectGarbage, startFaultyServer, type FaultyServer } from '../helpers/faulty-server.js';

const servers: FaultyServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('bundle poller deadline', () => {
  it('a poll of a hanging server ends at its timeout, GC or not, and stop() is prompt', async () => {
    const server = await startFaultyServer((_req, res) => res.end(), { kind: 'hang' });
    servers.push(server);
    const poller = createBundlePoller({
      url: `${server.url}/bundle.tar.gz`,
      headers: {},
      minDelayMs: 50,
      maxDelayMs: 100,
      timeoutMs: 300,
      onBundle: async () => {},
    });
    const gc = setInterval(() => void collectGarbage(), 40);
    try {
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const result = await poller.pollOnce();
        expect(result.kind).toBe('error');
        expect(Date.now() - started).toBeLessThan(1500);
      }
      poller.start();
      await new Promise((r) => setTimeout(r, 500));
      const stopping = Date.now();
      await poller.stop();
      expect(Date.now() - stopping).toBeLessThan(500);
    } finally {
      clearInterval(gc);
    }
  });
});
