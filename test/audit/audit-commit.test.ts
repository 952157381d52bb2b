// audit.durability: answer_after_write: a commit resolves once the record is in the file, and rejects when it cannot be written.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import type { AuditRecord } from '../../src/audit/record.js';
import type { AuditConfig } from '../../src/config/types.js';

function record(i: number): AuditRecord {
  return {
    type: 'decision',
    schema_version: 1,
    decision_id: `d-${i}`,
    time: new Date().toISOString(),
    transport: 'http',
    allow: true,
    reasons: [],
    action: 'contacts.read',
    tenant: 'acme_inc',
    latency_us: 10,
    input: { action: 'contacts.read' },
  };
}

function fileConfig(path: string, durability: AuditConfig['durability']): AuditConfig {
  return {
    sinks: [
      { driver: 'file', name: 'file', format: 'mandate', path, maxBytes: 1 << 20, maxFiles: 2 },
    ],
    mask: [],
    ringSize: 0,
    labels: {},
    maxQueue: 1000,
    shutdownFlushMs: 0,
    durability,
  };
}

describe('audit commit (answer_after_write)', () => {
  it('best_effort hands out no commit; answer_after_write resolves once every queued record is in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-commit-'));
    const relaxed = createAuditLog({ config: fileConfig(join(dir, 'a.jsonl'), 'best_effort') });
    relaxed.write(record(0));
    expect(relaxed.committed?.()).toBeUndefined();
    await relaxed.close();

    const path = join(dir, 'b.jsonl');
    const log = createAuditLog({ config: fileConfig(path, 'answer_after_write') });
    const commits = [1, 2, 3].map((i) => {
      log.write(record(i));
      return log.committed?.();
    });
    // Concurrent records share one commit.
    expect(commits[0]).toBe(commits[2]);
    await Promise.all(commits);
    expect(readFileSync(path, 'utf8')).toContain('"decision_id":"d-3"');
    await log.close();
  });

  it('rejects when the record cannot be written, so no allow is answered for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-commit-'));
    // A file where the sink's folder should be: opening the file fails.
    writeFileSync(join(dir, 'blocked'), 'not a folder');
    const log = createAuditLog({
      config: fileConfig(join(dir, 'blocked', 'audit.jsonl'), 'answer_after_write'),
    });
    log.write(record(1));
    await expect(log.committed?.()).rejects.toThrow(/could not be written/);
    await log.close();
  });
});
