// A sidecar that is PID 1 in its PID namespace (as in a container), SIGKILLed and started again as PID 1, takes its spool back and delivers it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../helpers/collector.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import {
  checkOutcome,
  startSidecarProcess,
  writeProcessConfig,
  type SidecarProcess,
} from '../helpers/sidecar-process.js';
import { createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

/** A new PID namespace per start: the sidecar is its PID 1; killing unshare kills it (PR_SET_PDEATHSIG). */
const NAMESPACE = ['unshare', '--pid', '--mount-proc', '--kill-child=SIGKILL'];
const canUnshare = spawnSync(NAMESPACE[0] as string, [...NAMESPACE.slice(1), 'true']).status === 0;

/** The pid the wrapped sidecar has inside its namespace (the last NSpid of unshare's child). */
function namespacePid(wrapper: SidecarProcess): string | undefined {
  const pid = wrapper.proc.pid as number;
  const child = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0];
  const status = readFileSync(`/proc/${child}/status`, 'utf8');
  return /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).pop();
}

let key: TestKey;
let jwks: JwksServer;
let collector: Collector;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  key = await createTestKey('ES256');
  jwks = await startJwksServer([key.jwk]);
  collector = await startCollector();
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.kill('SIGKILL')));
  await collector?.close();
  await jwks?.close();
});

describe.skipIf(!canUnshare)('audit spool lock in a PID namespace', { timeout: 240_000 }, () => {
  it('a restarted PID 1 takes over the lock its killed predecessor left and delivers the spooled records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fault-spool-'));
    const config = writeProcessConfig(
      dir,
      jwks.url,
      `audit:
  sinks:
    - driver: http
      url: "${collector.url}"
      batch_max_delay_ms: 50
      backoff_min_ms: 20
      backoff_max_ms: 200
      spool: { dir: "${dir}/spool" }
`,
    );
    const token = await signToken(key, {
      claims: { tenant: 'acme_inc', scope: 'tickets.write' },
    });
    await collector.down();
    const first = await startSidecarProcess(config, { wrapper: NAMESPACE });
    running.push(first);
    expect(namespacePid(first)).toBe('1');
    const answered: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { decisionId } = await checkOutcome(first, token, {
        action: 'tickets.comment',
        tenant: 'acme_inc',
      });
      answered.push(decisionId);
    }
    // Well past the spool's write coalescing: every answered record is in a segment.
    await new Promise((r) => setTimeout(r, 1000));
    await first.kill('SIGKILL');

    await collector.up();
    const second = await startSidecarProcess(config, { wrapper: NAMESPACE });
    running.push(second);
    try {
      expect(namespacePid(second)).toBe('1');
      expect(second.stderr()).not.toContain('in use by process');
      await collector.waitForEvents(answered.length, 30_000);
      const delivered = new Set(collector.events.map((e) => e['decision_id'] as string));
      expect(answered.filter((id) => !delivered.has(id))).toEqual([]);
    } finally {
      await second.kill('SIGKILL');
    }
  });
});
