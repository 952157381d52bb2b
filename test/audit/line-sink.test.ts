// The file line sink: every committed line lands once, byte for byte, and the file rotates by bytes.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLineSink } from '../../src/audit/line-sink.js';
import type { AuditRecord } from '../../src/audit/record.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mandate-line-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const record = {} as AuditRecord;

describe('file line sink', () => {
  it('writes each line once when flushed before its file is open', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineSink({ name: 'file', format: 'mandate', destination: path });
    sink.add(record, '{"n":1}\n');
    sink.commit();
    await sink.flush();
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n');
    sink.add(record, '{"n":2}\n');
    sink.commit();
    await sink.close(Date.now() + 1000);
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
  });

  it('has written every committed line once a flush resolves, also when a write was in flight', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineSink({ name: 'file', format: 'mandate', destination: path });
    await sink.flush();
    const expected: string[] = [];
    for (let round = 0; round < 20; round++) {
      // A batch over the buffer's minimum starts a write; a small one after it waits in the buffer.
      const big = `{"round":${round},"pad":"${'a'.repeat(6000)}"}\n`;
      const small = `{"round":${round},"small":true}\n`;
      sink.add(record, big);
      sink.commit();
      sink.add(record, small);
      sink.commit();
      expected.push(big, small);
      await sink.flush();
      expect(await readFile(path, 'utf8')).toBe(expected.join(''));
    }
    await sink.close(Date.now() + 1000);
  });

  it('rotates under load (writes in flight, a rotation still opening) and closes with every line once', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineSink({
      name: 'file',
      format: 'mandate',
      destination: path,
      maxBytes: 20_000,
      maxFiles: 50,
    });
    await sink.flush();
    for (let i = 0; i < 40; i++) {
      sink.add(record, `{"n":${i},"pad":"${'a'.repeat(5000)}"}\n`);
      sink.commit();
      if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await sink.close(Date.now() + 3000);
    const seen: number[] = [];
    for (const name of await readdir(dir)) {
      for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
        if (line !== '') seen.push((JSON.parse(line) as { n: number }).n);
      }
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect((await readdir(dir)).length).toBeGreaterThan(2);
  });

  it('writes UTF-8 as given and counts bytes, not characters, towards max_bytes', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineSink({
      name: 'file',
      format: 'mandate',
      destination: path,
      maxBytes: 12,
      maxFiles: 2,
    });
    await sink.flush();
    const line = '{"n":"éé"}\n'; // 11 characters, 13 bytes
    sink.add(record, line);
    sink.commit();
    await sink.close(Date.now() + 1000);
    expect(existsSync(`${path}.1`)).toBe(true);
    const written = (await readFile(`${path}.1`, 'utf8')) + (await readFile(path, 'utf8'));
    expect(written).toBe(line);
  });
});
