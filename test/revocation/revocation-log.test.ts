// The revocation journal: group-committed appends, a torn last record cut off, damage refused, compaction into the snapshot.
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RevocationStoreError } from '../../src/revocation/errors.js';
import { createRevocationLog } from '../../src/revocation/revocation-log.js';
import { createSnapshotFile } from '../../src/revocation/snapshot-file.js';
import type { RevocationEntry } from '../../src/revocation/types.js';

const path = () => join(mkdtempSync(join(tmpdir(), 'mandate-log-')), 'revocations.json');

function entry(i: number): RevocationEntry {
  return {
    id: `rv_${i}`,
    kind: 'token',
    value: `jti-${i}`,
    reason: '',
    createdBy: 'token:00000000',
    createdAtMs: Date.now(),
    expiresAtMs: Date.now() + 60_000,
  };
}

const open = (p: string, compactAfterRecords = 1000) =>
  createRevocationLog({ snapshot: createSnapshotFile(p), compactAfterRecords });

describe('revocation log', () => {
  it('concurrent appends all land, and a fresh reader replays them', async () => {
    const p = path();
    const log = open(p);
    await log.load();
    await Promise.all(
      Array.from({ length: 200 }, (_v, i) => log.append([{ op: 'add', entry: entry(i) }])),
    );
    await log.append([
      { op: 'del', id: 'rv_7' },
      { op: 'epoch', epoch: 'e1' },
    ]);
    await log.close();
    const loaded = await open(p).load();
    expect(loaded.entries).toHaveLength(199);
    expect(loaded.entries.some((e) => e.id === 'rv_7')).toBe(false);
    expect(loaded.epoch).toBe('e1');
    expect(loaded.replayed).toBe(202);
  });

  it('cuts off an unfinished last record and keeps appending after the good ones', async () => {
    const p = path();
    const log = open(p);
    await log.load();
    await log.append([{ op: 'add', entry: entry(1) }]);
    await log.close();
    const goodSize = statSync(log.journalPath).size;
    appendFileSync(log.journalPath, '{"op":"add","entry":{"id":"rv_2","ki');
    const again = open(p);
    const loaded = await again.load();
    expect(loaded.entries.map((e) => e.id)).toEqual(['rv_1']);
    expect(loaded.truncatedBytes).toBeGreaterThan(0);
    expect(statSync(log.journalPath).size).toBe(goodSize);
    await again.append([{ op: 'add', entry: entry(3) }]);
    await again.close();
    expect((await open(p).load()).entries.map((e) => e.id)).toEqual(['rv_1', 'rv_3']);
  });

  it('refuses a journal damaged before its last record, naming the file', async () => {
    const p = path();
    writeFileSync(
      `${p}.journal`,
      `${JSON.stringify({ op: 'add', entry: entry(1) })}\nnot json\n${JSON.stringify({ op: 'add', entry: entry(2) })}\n`,
    );
    const err = await open(p)
      .load()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RevocationStoreError);
    expect((err as Error).message).toContain(`${p}.journal`);
  });

  it('folds the journal into the snapshot past its bound; the state read back is the same', async () => {
    const p = path();
    const log = open(p, 10);
    await log.load();
    for (let i = 0; i < 25; i++) await log.append([{ op: 'add', entry: entry(i) }]);
    await log.append([{ op: 'del', id: 'rv_0' }]);
    await log.close();
    // Compacted at least once: the journal holds only what came after the last compaction.
    const journalLines = readFileSync(log.journalPath, 'utf8').split('\n').filter(Boolean);
    expect(journalLines.length).toBeLessThanOrEqual(10);
    const snap = JSON.parse(readFileSync(p, 'utf8')) as { entries: unknown[] };
    expect(snap.entries.length).toBeGreaterThan(0);
    const loaded = await open(p).load();
    expect(loaded.entries.map((e) => e.id)).toEqual(
      Array.from({ length: 24 }, (_v, i) => `rv_${i + 1}`),
    );
  });
});
