// The file line sink: every committed line lands once, byte for byte, and the file rotates by bytes.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
