// In-process cost of one cached-token decision (decide() plus its audit drain), with no transport: where mandate's own microseconds go.
// Run: node bench/decide-cost.mjs > /dev/null   (the default stdout audit sink writes to stdout; figures go to stderr)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setImmediate } from 'node:timers';
import { join } from 'node:path';
import pino from 'pino';
import { defaultConfig, DEV_AUDIENCE, DEV_ISSUER } from '../dist/config/load.js';
import { createAuditLog } from '../dist/audit/audit-log.js';
import { openDecisionCore } from '../dist/compose/core.js';
import { createMetrics } from '../dist/metrics/registry.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PER_ROUND = Number(process.env.PER_ROUND ?? 100_000);
const CONCURRENCY = 32;
const audit = process.env.AUDIT ?? 'stdout';
/** RESOURCES=unique: a new resource id per decision, so the policy runs every time. */
const uniqueResources = process.env.RESOURCES === 'unique';
/** DECISION_CACHE=<entries>: policies.decision_cache_size (default: the config default). */
const decisionCache = process.env.DECISION_CACHE;

const stateDir = await mkdtemp(join(tmpdir(), 'mandate-decide-cost-'));
try {
  const config = defaultConfig({
    env: { MANDATE_STATE_DIR: stateDir },
    baseDir: new URL('..', import.meta.url).pathname,
  });
  const withAudit =
    audit === 'none'
      ? { ...config, audit: { ...config.audit, sinks: [], ringSize: 0 } }
      : audit === 'noring'
        ? { ...config, audit: { ...config.audit, ringSize: 0 } }
        : audit === 'nosink'
          ? { ...config, audit: { ...config.audit, sinks: [] } }
          : config;
  const configured =
    decisionCache === undefined
      ? withAudit
      : {
          ...withAudit,
          policies: { ...withAudit.policies, decisionCacheSize: Number(decisionCache) },
        };
  const logger = pino({ level: 'warn' }, pino.destination(2));
  // The audit log `serve` builds (sinks, ring, masking, counted records), without its listeners.
  const auditLog = createAuditLog({
    config: configured.audit,
    metrics: createMetrics(),
    logger: logger.child({ component: 'audit' }),
  });
  await auditLog.start();
  const core = await openDecisionCore(configured, logger, auditLog);
  const signer = await loadOrCreateDevSigner(stateDir);
  const token = await signer.mint({
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    sub: 'user_8421',
    tenant: 'acme_inc',
    scope: 'contacts.read tickets.write',
    clientId: 'agent-1',
    ttlSeconds: 3600,
  });
  let n = 0;
  const request = () => ({
    token,
    action: 'tickets.comment',
    resource: { type: 'ticket', id: uniqueResources ? `T-${n++}` : 'T-1' },
    tenant: 'acme_inc',
    transport: 'http',
    peer: '127.0.0.1:40000',
  });
  const first = await core.decider.decide(request());
  if (!first.allow) throw new Error(`not an allow: ${JSON.stringify(first.reasons)}`);

  const tick = () => new Promise((resolve) => setImmediate(resolve));
  const results = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let done = 0; done < PER_ROUND; done += CONCURRENCY) {
      const batch = [];
      for (let i = 0; i < CONCURRENCY; i++) batch.push(core.decider.decide(request()));
      await Promise.all(batch);
      await tick(); // the audit drain runs here, as it would between requests
    }
    const wallUs = Number(process.hrtime.bigint() - started) / 1000 / PER_ROUND;
    const used = process.cpuUsage(cpu);
    results.push({ wallUs, cpuUs: (used.user + used.system) / PER_ROUND });
  }
  const best = results.reduce((a, b) => (b.wallUs < a.wallUs ? b : a));
  process.stderr.write(
    `decide() cached token, ${uniqueResources ? 'new resource each, ' : ''}audit ${audit}` +
      `${decisionCache === undefined ? '' : `, decision cache ${decisionCache}`}: best of ${ROUNDS} x ${PER_ROUND}: ` +
      `${best.wallUs.toFixed(2)} µs wall, ${best.cpuUs.toFixed(2)} µs CPU per decision ` +
      `(all: ${results.map((r) => r.wallUs.toFixed(2)).join(' ')})\n`,
  );
  await core.stop();
  await auditLog.close();
} finally {
  await rm(stateDir, { recursive: true, force: true });
}
