// The snapshot file: written whole by rename, coalesced under bursts, and a damaged file stops start-up instead of un-revoking.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRevocationStore } from '../../src/revocation/create-store.js';
import { RevocationStoreError } from '../../src/revocation/errors.js';
import { createSnapshotFile } from '../../src/revocation/snapshot-file.js';
import type { RevocationEntry } from '../../src/revocation/types.js';

const dir = () => mkdtempSync(join(tmpdir(), 'mandate-snap-'));

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

function memoryStore(path: string) {
  return createRevocationStore(
    {
      store: { driver: 'memory' },
      path,
      grantClaim: 'grant_id',
      maxTokenLifetimeSeconds: 3600,
      clockSkewSeconds: 60,
      sweepIntervalSeconds: 3600,
      bodyLimitBytes: 8192,
    },
    { issuers: [] },
  ).store;
}

describe('revocation snapshot file', () => {
  it('a burst of saves ends with the latest state on disk and no temporary files', async () => {
    const folder = dir();
    const file = createSnapshotFile(join(folder, 'nested', 'revocations.json'));
    const entries: RevocationEntry[] = [];
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      entries.push(entry(i));
      saves.push(file.save(() => ({ entries: [...entries], epoch: 'e1' })));
    }
    await Promise.all(saves);
    const loaded = await file.load();
    expect(loaded?.entries).toHaveLength(50);
    expect(loaded?.epoch).toBe('e1');
    expect(readdirSync(join(folder, 'nested'))).toEqual(['revocations.json']);
  });

  it('load answers undefined when there is no file yet', async () => {
    expect(await createSnapshotFile(join(dir(), 'none.json')).load()).toBeUndefined();
  });

  it('skips malformed entries but keeps the rest', async () => {
    const path = join(dir(), 'r.json');
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        entries: [entry(1), { id: 'x', kind: 'everything' }, entry(2)],
      }),
    );
    const loaded = await createSnapshotFile(path).load();
    expect(loaded?.entries.map((e) => e.id)).toEqual(['rv_1', 'rv_2']);
    expect(loaded?.skipped).toBe(1);
  });

  it.each([
    ['not JSON', '{"version":1,'],
    ['another format', '{"version":99,"entries":[]}'],
    ['entries not a list', '{"version":1,"entries":{}}'],
  ])(
    'a damaged file (%s) stops the memory store from starting, naming the path',
    async (_n, text) => {
      const path = join(dir(), 'revocations.json');
      writeFileSync(path, text);
      const err = await memoryStore(path)
        .start()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RevocationStoreError);
      expect((err as Error).message).toContain(path);
    },
  );

  it('a failed write is not stored: the add rejects and the index is unchanged', async () => {
    const folder = dir();
    const store = memoryStore(join(folder, 'sub', 'revocations.json'));
    await store.start();
    // A file where the snapshot's folder should be: every write fails from now on.
    writeFileSync(join(folder, 'sub'), 'not a folder');
    const err = await store.add(entry(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RevocationStoreError);
    expect((err as RevocationStoreError).code).toBe('store_unavailable');
    expect(store.get('rv_2')).toBeUndefined();
    expect(store.size()).toBe(0);
    expect(store.status().state).toBe('WARN');
    expect(readFileSync(join(folder, 'sub'), 'utf8')).toBe('not a folder');
    await store.stop();
  });
});
