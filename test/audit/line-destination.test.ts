// The line destinations (stdout, file): every committed line lands once, byte for byte, in order; the file rotates by bytes; a descriptor that would block is not waited on.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLineDestination } from '../../src/audit/line-destination.js';
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
  it('writes each line once, flushed or closed', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineDestination({ name: 'file', format: 'mandate', destination: path });
    sink.add(record, '{"n":1}\n');
    sink.commit();
    await sink.flush();
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n');
    sink.add(record, '{"n":2}\n');
    sink.commit();
    await sink.close(Date.now() + 1000);
    expect(await readFile(path, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
  });

  it('has written every committed line once a flush resolves, big and small batches alike', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineDestination({ name: 'file', format: 'mandate', destination: path });
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

  it('rotates under load and closes with every line once', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineDestination({
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
    const sink = createLineDestination({
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

describe('lines said to be ASCII', () => {
  it('are written byte for byte, in a batch of their own or beside lines that are not', async () => {
    const path = join(dir, 'audit.jsonl');
    const sink = createLineDestination({ name: 'file', format: 'mandate', destination: path });
    const ascii = ['{"n":1,"s":"plain"}\n', '{"n":2,"s":"also plain"}\n'];
    for (const line of ascii) sink.add(record, line, true);
    sink.commit();
    const mixed = ['{"n":3}\n', '{"n":4,"s":"ünïcødé 用户"}\n', '{"n":5}\n'];
    sink.add(record, mixed[0] as string, true);
    sink.add(record, mixed[1] as string, false);
    sink.add(record, mixed[2] as string, true);
    sink.commit();
    await sink.close(Date.now() + 1000);
    expect(await readFile(path, 'utf8')).toBe([...ascii, ...mixed].join(''));
  });
});

describe('descriptor line sink', () => {
  /** A FIFO with both ends non-blocking: writes fail with EAGAIN once its buffer is full. */
  function nonBlockingFifo(): { reader: number; writer: number } {
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    return { reader, writer };
  }

  function readAvailable(fd: number): string {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(65_536);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buffer);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  it('keeps what a descriptor that would block did not take and writes it later, in order', async () => {
    const { reader, writer } = nonBlockingFifo();
    const counted = { written: 0, dropped: 0 };
    const sink = createLineDestination({
      name: 'stdout',
      format: 'mandate',
      destination: writer,
      onRecords: (result, n) => {
        if (result === 'written' || result === 'dropped') counted[result] += n;
      },
    });
    const expected: string[] = [];
    // Far more than a pipe's buffer (64 KiB on Linux), with nobody reading yet.
    for (let i = 0; i < 100; i++) {
      const line = `{"n":${i},"pad":"${'é'.repeat(1000)}"}\n`;
      sink.add(record, line);
      sink.commit();
      expected.push(line);
    }
    let flushed = false;
    const flush = sink.flush().then(() => {
      flushed = true;
    });
    let got = readAvailable(reader);
    expect(got.length).toBeLessThan(expected.join('').length);
    expect(flushed).toBe(false);
    while (!flushed) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      got += readAvailable(reader);
    }
    await flush;
    got += readAvailable(reader);
    expect(got).toBe(expected.join(''));
    expect(counted).toEqual({ written: 100, dropped: 0 });
    await sink.close(Date.now() + 1000);
    closeSync(reader);
    closeSync(writer);
  });

  it('drops and counts batches past its backlog bound, and says so in its status', async () => {
    const { reader, writer } = nonBlockingFifo();
    const counted = { written: 0, dropped: 0 };
    const errors: string[] = [];
    const sink = createLineDestination({
      name: 'stdout',
      format: 'mandate',
      destination: writer,
      maxBacklogBytes: 100_000,
      onRecords: (result, n) => {
        if (result === 'written' || result === 'dropped') counted[result] += n;
      },
      onError: (err) => errors.push(err.message),
    });
    for (let i = 0; i < 400; i++) {
      sink.add(record, `{"n":${i},"pad":"${'a'.repeat(1000)}"}\n`);
      sink.commit();
    }
    expect(counted.dropped).toBeGreaterThan(0);
    expect(counted.written + counted.dropped).toBe(400);
    expect(errors).toEqual(['the destination is not taking records fast enough']);
    expect(sink.status().state).toBe('WARN');
    // What was kept still arrives, whole lines in order.
    let got = '';
    let flushed = false;
    const flush = sink.flush().then(() => {
      flushed = true;
    });
    while (!flushed) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      got += readAvailable(reader);
    }
    await flush;
    got += readAvailable(reader);
    const numbers = got
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { n: number }).n);
    expect(numbers).toEqual(Array.from({ length: counted.written }, (_, i) => i));
    await sink.close(Date.now() + 1000);
    closeSync(reader);
    closeSync(writer);
  });
});
