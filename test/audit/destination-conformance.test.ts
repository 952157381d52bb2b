// One conformance suite for every audit destination: a descriptor (what stdout is), a rotating file, and the http collector with its spool; plus the ring the audit log keeps.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import type { AuditDestination, AuditRecordResult } from '../../src/audit/destination.js';
import { createHttpDestination } from '../../src/audit/http-destination.js';
import { createLineDestination } from '../../src/audit/line-destination.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { startCollector, type Collector } from '../helpers/collector.js';

/** What the suite sees of one destination. */
interface Harness {
  readonly destination: AuditDestination;
  /** Every line delivered so far, parsed, in delivery order. */
  delivered(): Promise<Record<string, unknown>[]>;
  dispose(): Promise<void>;
}

/** What a destination reported through its events. */
interface Reports {
  readonly counts: Record<AuditRecordResult, number>;
  readonly errors: string[];
}

interface Driver {
  readonly name: string;
  /** A working destination in `dir`. */
  make(dir: string, events: Reports): Promise<Harness>;
  /** A destination whose I/O fails (an unwritable place, a collector that is down). */
  broken(dir: string, events: Reports): Promise<Harness>;
}

function listen(reports: Reports) {
  return {
    onRecords: (result: AuditRecordResult, n: number) => {
      reports.counts[result] += n;
    },
    onError: (err: Error) => {
      reports.errors.push(err.message);
    },
  };
}

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A FIFO, its read end non-blocking so the test drains it without waiting. */
function fifo(dir: string): { reader: number; writer: number; path: string } {
  const path = join(dir, 'out.fifo');
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return { reader, writer, path };
}

function drain(fd: number, into: Buffer[]): void {
  const buffer = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
      throw err;
    }
    if (n === 0) return;
    into.push(Buffer.from(buffer.subarray(0, n)));
  }
}

const descriptor: Driver = {
  name: 'descriptor (stdout)',
  async make(dir, reports) {
    const { reader, writer } = fifo(dir);
    const got: Buffer[] = [];
    const destination = createLineDestination({
      ...listen(reports),
      name: 'stdout',
      format: 'mandate',
      destination: writer,
    });
    return {
      destination,
      async delivered() {
        drain(reader, got);
        return parseLines(Buffer.concat(got).toString('utf8'));
      },
      async dispose() {
        closeSync(reader);
        closeSync(writer);
      },
    };
  },
  async broken(dir, reports) {
    // A descriptor nobody reads any more: every write fails with EPIPE.
    const { reader, writer } = fifo(dir);
    closeSync(reader);
    const destination = createLineDestination({
      ...listen(reports),
      name: 'stdout',
      format: 'mandate',
      destination: writer,
    });
    return {
      destination,
      delivered: async () => [],
      async dispose() {
        closeSync(writer);
      },
    };
  },
};

const file: Driver = {
  name: 'file',
  async make(dir, reports) {
    const path = join(dir, 'audit', 'audit.jsonl');
    const destination = createLineDestination({
      ...listen(reports),
      name: 'file',
      format: 'mandate',
      destination: path,
      maxBytes: 1024 * 1024,
      maxFiles: 2,
    });
    return {
      destination,
      delivered: async () => parseLines(await readFile(path, 'utf8').catch(() => '')),
      dispose: async () => {},
    };
  },
  async broken(dir, reports) {
    // A folder where a file is: the path can never be opened.
    const blocker = join(dir, 'not-a-folder');
    await writeFile(blocker, '');
    const destination = createLineDestination({
      ...listen(reports),
      name: 'file',
      format: 'mandate',
      destination: join(blocker, 'audit.jsonl'),
    });
    return { destination, delivered: async () => [], dispose: async () => {} };
  },
};

function httpDestination(url: string, dir: string, reports: Reports): AuditDestination {
  return createHttpDestination({
    ...listen(reports),
    version: 'test',
    config: {
      driver: 'http',
      name: 'collector',
      url,
      headers: {},
      timeoutMs: 2000,
      batchMaxBytes: 64 * 1024,
      batchMaxDelayMs: 20,
      backoffMinMs: 20,
      backoffMaxMs: 100,
      onFull: 'drop_oldest',
      spool: {
        dir: join(dir, 'spool'),
        maxBytes: 16 * 1024 * 1024,
        segmentMaxBytes: 64 * 1024,
        fsync: 'interval',
        fsyncIntervalMs: 100,
      },
    },
  });
}

const http: Driver = {
  name: 'http (collector and spool)',
  async make(dir, reports) {
    const collector: Collector = await startCollector();
    return {
      destination: httpDestination(collector.url, dir, reports),
      delivered: async () => [...collector.events],
      dispose: () => collector.close(),
    };
  },
  async broken(dir, reports) {
    const collector: Collector = await startCollector();
    await collector.down();
    return {
      destination: httpDestination(collector.url, dir, reports),
      delivered: async () => [],
      dispose: () => collector.close(),
    };
  },
};

function record(i: number, extra: Record<string, unknown> = {}): AuditRecord {
  return { type: 'decision', allow: true, decision_id: `d-${i}`, ...extra } as AuditRecord;
}

/** Adds `n` records numbered from `from`, committed in drains of `perDrain`. */
function commitRecords(d: AuditDestination, from: number, n: number, perDrain = 7): void {
  for (let i = from; i < from + n; i++) {
    d.add(record(i), `${JSON.stringify({ decision_id: `d-${i}`, n: i })}\n`, true);
    if ((i - from + 1) % perDrain === 0) d.commit();
  }
  d.commit();
}

const soon = () => Date.now() + 5000;

let dir: string;
const harnesses: Harness[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mandate-destination-'));
});
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.destination.close(Date.now());
    await h.dispose();
  }
  await rm(dir, { recursive: true, force: true });
});

function reports(): Reports {
  return { counts: { written: 0, delivered: 0, dropped: 0 }, errors: [] };
}

describe.each([descriptor, file, http])('audit destination conformance: $name', (driver) => {
  async function open(r: Reports = reports()): Promise<Harness> {
    const h = await driver.make(dir, r);
    harnesses.push(h);
    await h.destination.start();
    return h;
  }

  it('delivers every committed record once, in commit order, by the time close() resolves', async () => {
    const r = reports();
    const h = await open(r);
    commitRecords(h.destination, 0, 250);
    await h.destination.close(soon());
    const got = await h.delivered();
    expect(got.map((e) => e['n'])).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(r.counts.written).toBe(250);
    expect(r.counts.dropped).toBe(0);
    expect(r.errors).toEqual([]);
  });

  it('keeps order across flushes, and flush() resolves with nothing left to write', async () => {
    const h = await open();
    for (let round = 0; round < 5; round++) {
      commitRecords(h.destination, round * 20, 20, 3);
      await h.destination.flush();
    }
    await h.destination.sync();
    await h.destination.close(soon());
    expect((await h.delivered()).map((e) => e['n'])).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('writes the line it is given byte for byte, never the record object (masking happened upstream)', async () => {
    const h = await open();
    const secret = 'Bearer eyJhbGciOi.secret.material';
    // The record still holds what masking removed; only the masked line may leave.
    h.destination.add(
      record(1, { input: { headers: { authorization: secret } } }),
      `${JSON.stringify({ decision_id: 'd-1', input: { headers: { authorization: '[REDACTED]' } } })}\n`,
      true,
    );
    h.destination.add(record(2), `${JSON.stringify({ decision_id: 'd-2', name: 'Zoë ✓' })}\n`);
    h.destination.commit();
    await h.destination.close(soon());
    const got = await h.delivered();
    expect(got).toEqual([
      { decision_id: 'd-1', input: { headers: { authorization: '[REDACTED]' } } },
      { decision_id: 'd-2', name: 'Zoë ✓' },
    ]);
    expect(JSON.stringify(got)).not.toContain('secret.material');
  });

  it('counts records committed after close() as dropped and writes none of them', async () => {
    const r = reports();
    const h = await open(r);
    commitRecords(h.destination, 0, 3);
    await h.destination.close(soon());
    commitRecords(h.destination, 3, 4);
    await h.destination.close(soon()); // a second close is harmless
    expect((await h.delivered()).map((e) => e['n'])).toEqual([0, 1, 2]);
    expect(r.counts.dropped).toBe(4);
  });

  it('reports OK once started, with its name and driver', async () => {
    const h = await open();
    expect(h.destination.status().state).toBe('OK');
    expect(h.destination.admits()).toBe(true);
    expect(['stdout', 'file', 'http']).toContain(h.destination.driver);
  });

  it('isolates its failures: add and commit never throw, close() resolves, the error is reported without record content', async () => {
    const r = reports();
    const h = await driver.broken(dir, r);
    harnesses.push(h);
    await h.destination.start();
    expect(() => {
      h.destination.add(record(1), '{"decision_id":"d-1","secret":"s3cr3t-value"}\n', true);
      h.destination.commit();
    }).not.toThrow();
    await h.destination.flush();
    const deadline = Date.now() + 5000;
    while (r.errors.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.errors.join(' ')).not.toContain('s3cr3t-value');
    expect(h.destination.status().state).not.toBe('OK');
    await expect(h.destination.close(Date.now() + 200)).resolves.toBeUndefined();
  });
});

describe('audit destination conformance: ring', () => {
  it('holds every record once, masked, in order', async () => {
    const log = createAuditLog({
      config: {
        sinks: [],
        ringSize: 100,
        mask: [{ op: 'erase', path: '/input/secret', segments: ['input', 'secret'] }],
        labels: {},
        maxQueue: 1000,
        shutdownFlushMs: 1000,
      },
    });
    await log.start();
    for (let i = 0; i < 30; i++) {
      log.write({
        ...record(i),
        time: new Date().toISOString(),
        input: { secret: `s3cr3t-${i}`, n: i },
      } as AuditRecord);
    }
    await log.flush();
    const answer = log.ring.query({ limit: 100 });
    expect(answer.records.map((r) => (r as { decision_id: string }).decision_id)).toEqual(
      Array.from({ length: 30 }, (_, i) => `d-${i}`),
    );
    expect(JSON.stringify(answer.records)).not.toContain('s3cr3t');
    await log.close();
  });
});
