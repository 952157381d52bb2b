// The http destination against a real local collector: gzip JSON batches, outages, restarts from the spool, and both bounds.
import { mkdtempSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog, type AuditLog } from '../../src/audit/audit-log.js';
import type { AuditRecord } from '../../src/audit/record.js';
import type { AuditConfig, AuditSinkConfig } from '../../src/config/types.js';
import { createMetrics, type Metrics } from '../../src/metrics/registry.js';
import { startCollector, type Collector } from '../helpers/collector.js';

let collector: Collector | undefined;
const logs: AuditLog[] = [];

afterEach(async () => {
  for (const log of logs.splice(0)) await log.close();
  await collector?.close();
  collector = undefined;
});

function decision(i: number, allow = true, pad = 0): AuditRecord {
  return {
    type: 'decision',
    schema_version: 1,
    decision_id: `d-${String(i).padStart(6, '0')}`,
    time: new Date().toISOString(),
    transport: 'http',
    allow,
    reasons: allow ? [] : [{ code: 'policy_denied', message: 'no' }],
    action: 'contacts.read',
    tenant: 'acme_inc',
    sub: 'user-1',
    client_id: 'agent-1',
    latency_us: 10,
    input: { action: 'contacts.read', context: { pad: 'x'.repeat(pad) } },
  };
}

type HttpSink = Extract<AuditSinkConfig, { driver: 'http' }>;

function httpConfig(
  url: string,
  dir: string,
  over: Partial<HttpSink> = {},
  spool: Partial<HttpSink['spool']> = {},
): AuditConfig {
  return {
    sinks: [
      {
        driver: 'http',
        name: 'collector',
        url,
        headers: { 'x-api-key': 'collector-secret' },
        timeoutMs: 2000,
        batchMaxBytes: 64 * 1024,
        batchMaxDelayMs: 50,
        backoffMinMs: 20,
        backoffMaxMs: 200,
        onFull: 'fail_closed',
        ...over,
        spool: {
          dir,
          maxBytes: 64 * 1024 * 1024,
          segmentMaxBytes: 256 * 1024,
          fsync: 'interval',
          fsyncIntervalMs: 100,
          ...spool,
        },
      },
    ],
    mask: [],
    ringSize: 100,
    labels: { service: 'test' },
    maxQueue: 1_000_000,
    shutdownFlushMs: 2000,
  };
}

async function start(config: AuditConfig, metrics?: Metrics): Promise<AuditLog> {
  const log = createAuditLog({ config, ...(metrics ? { metrics } : {}), version: 'test' });
  await log.start();
  logs.push(log);
  return log;
}

async function counter(metrics: Metrics, result: string): Promise<number> {
  const value = (await metrics.auditRecords.get()).values.find(
    (v) => v.labels['sink'] === 'collector' && v.labels['result'] === result,
  );
  return value?.value ?? 0;
}

const ids = (c: Collector) => c.events.map((e) => e['decision_id'] as string);
const spoolDir = () => mkdtempSync(join(tmpdir(), 'mandate-spool-'));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('http sink', () => {
  it('uploads gzip JSON arrays of OPA events, bounded by size, with the configured headers', async () => {
    collector = await startCollector();
    const metrics = createMetrics({ defaultMetrics: false });
    const log = await start(
      httpConfig(collector.url, spoolDir(), { batchMaxBytes: 8 * 1024 }),
      metrics,
    );
    for (let i = 0; i < 200; i++) log.write(decision(i, i % 3 !== 0, 100));
    await collector.waitForEvents(200);
    expect(collector.malformed).toEqual([]);
    expect(collector.batches.length).toBeGreaterThan(1);
    for (const batch of collector.batches) {
      // The bound is on the spooled lines; brackets and commas replace their newlines.
      expect(batch.jsonBytes).toBeLessThanOrEqual(8 * 1024 + 1);
      expect(batch.headers['content-encoding']).toBe('gzip');
      expect(batch.headers['x-api-key']).toBe('collector-secret');
      expect(batch.headers['user-agent']).toBe('mandate/test');
    }
    expect(new Set(ids(collector)).size).toBe(200);
    expect(collector.events[0]).toMatchObject({
      labels: { service: 'test', version: 'test', id: expect.any(String) },
      decision_id: 'd-000000',
      path: 'mandate/check',
      result: { allow: false },
      mandate: { tenant: 'acme_inc', sub: 'user-1', client_id: 'agent-1' },
    });
    await until('delivered metric', async () => (await counter(metrics, 'delivered')) === 200);
    expect(await counter(metrics, 'written')).toBe(200);
  });

  it('a lone record still goes out once it is batch_max_delay_ms old', async () => {
    collector = await startCollector();
    const log = await start(httpConfig(collector.url, spoolDir(), { batchMaxDelayMs: 300 }));
    const t0 = Date.now();
    log.write(decision(1));
    await collector.waitForEvents(1, 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('survives the collector being down, then failing, then back: every record exactly once', async () => {
    collector = await startCollector();
    await collector.down();
    const metrics = createMetrics({ defaultMetrics: false });
    const log = await start(httpConfig(collector.url, spoolDir()), metrics);
    for (let i = 0; i < 300; i++) log.write(decision(i));
    await until('first failures', () => log.status().state === 'WARN');
    expect(log.status().message).toMatch(/collector unreachable/);
    await new Promise((r) => setTimeout(r, 300));
    collector.failWith = 503;
    await collector.up();
    for (let i = 300; i < 600; i++) log.write(decision(i));
    await until('503s', () => (collector as Collector).refused > 0);
    expect(collector.events).toHaveLength(0);
    await until('undelivered age', () => {
      const detail = log.status().detail as {
        sinks: Record<string, { detail: Record<string, number> }>;
      };
      return (detail.sinks['collector']?.detail['spool_records'] ?? 0) === 600;
    });
    collector.failWith = undefined;
    await collector.waitForEvents(600);
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.events).toHaveLength(600);
    expect(new Set(ids(collector)).size).toBe(600);
    expect(ids(collector)).toEqual([...ids(collector)].sort());
    await until('OK again', () => log.status().state === 'OK');
    await until('delivered metric', async () => (await counter(metrics, 'delivered')) === 600);
  });

  it('leaves what it cannot deliver by the shutdown deadline in the spool; the next start delivers it', async () => {
    collector = await startCollector();
    await collector.down();
    const dir = spoolDir();
    const config = { ...httpConfig(collector.url, dir), shutdownFlushMs: 200 };
    const first = createAuditLog({ config, version: 'test' });
    await first.start();
    for (let i = 0; i < 150; i++) first.write(decision(i));
    await first.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(0);

    await collector.up();
    await start(config);
    await collector.waitForEvents(150);
    await new Promise((r) => setTimeout(r, 200));
    expect(new Set(ids(collector)).size).toBe(150);
    expect(collector.events).toHaveLength(150);
    await until(
      'segments deleted',
      () => readdirSync(dir).filter((f) => f.endsWith('.seg')).length <= 1,
    );
  });

  it('fail_closed: refuses new allows once the spool is full and admits again after delivery', async () => {
    collector = await startCollector();
    await collector.down();
    const metrics = createMetrics({ defaultMetrics: false });
    const log = await start(
      httpConfig(
        collector.url,
        spoolDir(),
        {},
        { maxBytes: 64 * 1024, segmentMaxBytes: 16 * 1024 },
      ),
      metrics,
    );
    expect(log.admits()).toBe(true);
    let written = 0;
    while (log.admits() && written < 10_000) {
      log.write(decision(written++, true, 200));
      if (written % 20 === 0) await log.flush();
    }
    await log.flush();
    expect(log.admits()).toBe(false);
    expect(log.status()).toMatchObject({ state: 'ERROR' });
    expect(log.status().message).toMatch(/audit_unavailable/);
    // A denial arriving while full is let go (counted); the admitted allows all stay.
    log.write(decision(written, false, 200));
    await log.flush();
    expect(await counter(metrics, 'dropped')).toBe(1);

    await collector.up();
    await collector.waitForEvents(written);
    await until('admitting again', () => log.admits());
    expect(new Set(ids(collector)).size).toBe(written);
  });

  it('drop_oldest: keeps the spool under its bound, counts what it dropped, delivers the newest', async () => {
    collector = await startCollector();
    await collector.down();
    const metrics = createMetrics({ defaultMetrics: false });
    const log = await start(
      httpConfig(
        collector.url,
        spoolDir(),
        { onFull: 'drop_oldest' },
        { maxBytes: 64 * 1024, segmentMaxBytes: 16 * 1024 },
      ),
      metrics,
    );
    const total = 600;
    for (let i = 0; i < total; i++) {
      log.write(decision(i, true, 200));
      if (i % 10 === 0) await log.flush();
      expect(log.admits()).toBe(true);
    }
    await log.flush();
    const detail = log.status().detail as {
      sinks: Record<string, { detail: Record<string, number> }>;
    };
    expect(detail.sinks['collector']?.detail['spool_bytes']).toBeLessThanOrEqual(64 * 1024);
    const dropped = await counter(metrics, 'dropped');
    expect(dropped).toBeGreaterThan(0);
    await collector.up();
    await collector.waitForEvents(total - dropped);
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.events).toHaveLength(total - dropped);
    expect(ids(collector)).toContain(`d-${String(total - 1).padStart(6, '0')}`);
    expect(ids(collector)).not.toContain('d-000000');
  });

  it('skips a line torn by a crash in a segment left from a previous run, counting it dropped', async () => {
    collector = await startCollector();
    const dir = spoolDir();
    mkdirSync(dir, { recursive: true });
    const line = (id: string) =>
      JSON.stringify({ decision_id: id, timestamp: new Date().toISOString() });
    writeFileSync(
      join(dir, '0000000000000001.seg'),
      `${line('a')}\n{"decision_id":"torn-in-the-mid\n${line('b')}\n{"decision_id":"c","tim`,
    );
    const metrics = createMetrics({ defaultMetrics: false });
    await start(httpConfig(collector.url, dir), metrics);
    await collector.waitForEvents(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(ids(collector)).toEqual(['a', 'b']);
    expect(collector.malformed).toEqual([]);
    await until('dropped metric', async () => (await counter(metrics, 'dropped')) === 2);
  });
});

describe('spool ownership', () => {
  it('refuses a second writer on the same spool, and takes over a lock its dead owner left', async () => {
    collector = await startCollector();
    const dir = spoolDir();
    await start(httpConfig(collector.url, dir));
    const second = createAuditLog({ config: httpConfig(collector.url, dir), version: 'test' });
    await expect(second.start()).rejects.toThrow(/in use by process \d+/);

    const orphaned = spoolDir();
    // A pid far above any live process: the owner is gone (killed), so its lock is stale.
    writeFileSync(join(orphaned, 'lock'), '999999999');
    const log = await start(httpConfig(collector.url, orphaned));
    log.write(decision(1));
    await collector.waitForEvents(1);
  });

  it('takes over a lock naming its own pid that it does not hold: a same-pid predecessor, as a restarted PID 1', async () => {
    collector = await startCollector();
    const dir = spoolDir();
    writeFileSync(join(dir, 'lock'), String(process.pid));
    const log = await start(httpConfig(collector.url, dir));
    log.write(decision(1));
    await collector.waitForEvents(1);
  });

  it('takes over a lock naming a live process that started at another time (its pid reused)', async () => {
    collector = await startCollector();
    const dir = spoolDir();
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: process.ppid, start: '1' }));
    const log = await start(httpConfig(collector.url, dir));
    log.write(decision(1));
    await collector.waitForEvents(1);
  });
});
