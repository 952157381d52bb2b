// The tar reader: plain entries, the long-name extensions, and refusing damaged or hostile archives.
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readPolicyBundle } from '../../src/policy/bundle-format.js';
import { TarFormatError, readTar } from '../../src/policy/tar-reader.js';

const encoder = new TextEncoder();

/** One 512-byte header plus padded data; `type` is the typeflag character. */
function entry(
  name: string,
  data: Uint8Array,
  type = '0',
  prefix = '',
  declaredSize = data.length,
  linkName = '',
): Uint8Array {
  const header = new Uint8Array(512);
  const put = (offset: number, text: string) => header.set(encoder.encode(text), offset);
  put(0, name);
  put(100, '0000644\0');
  put(124, `${declaredSize.toString(8).padStart(11, '0')}\0`);
  put(136, '00000000000\0');
  put(156, type);
  put(157, linkName);
  put(257, 'ustar\x0000');
  put(345, prefix);
  put(148, '        ');
  const sum = header.reduce((total, byte) => total + byte, 0);
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
  padded.set(data);
  return concat(header, padded);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length += 1;
  return `${length}${body}`;
}

const end = new Uint8Array(1024);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('readTar', () => {
  it('reads regular files and strips the leading slash opa writes', async () => {
    const archive = concat(
      entry('/data.json', encoder.encode('{}')),
      entry('/dir/', new Uint8Array(0), '5'),
      entry('/policy.wasm', new Uint8Array(600).fill(7)),
      end,
    );
    const files = await readTar(archive);
    expect(files.map((file) => file.path)).toEqual(['data.json', 'policy.wasm']);
    expect(text(files[0]!.data)).toBe('{}');
    expect(files[1]!.data.length).toBe(600);
  });

  it('joins the ustar prefix field', async () => {
    const files = await readTar(
      concat(entry('file.rego', encoder.encode('x'), '0', 'some/prefix'), end),
    );
    expect(files[0]?.path).toBe('some/prefix/file.rego');
  });

  it('applies PAX and GNU long names to the next entry only', async () => {
    const longName = `${'a'.repeat(120)}/policy.wasm`;
    const archive = concat(
      entry(
        'PaxHeaders/x',
        encoder.encode(paxRecord('mtime', '1') + paxRecord('path', longName)),
        'x',
      ),
      entry('truncated-name', encoder.encode('pax')),
      entry('././@LongLink', encoder.encode(`${'b'.repeat(110)}\0`), 'L'),
      entry('truncated-again', encoder.encode('gnu')),
      entry('short', encoder.encode('plain')),
      end,
    );
    expect((await readTar(archive)).map((file) => [file.path, text(file.data)])).toEqual([
      [longName, 'pax'],
      ['b'.repeat(110), 'gnu'],
      ['short', 'plain'],
    ]);
  });

  it('stops at the end-of-archive blocks even without both', async () => {
    const oneEndBlock = concat(entry('a', encoder.encode('1')), new Uint8Array(512));
    expect(await readTar(oneEndBlock)).toHaveLength(1);
    expect(await readTar(entry('a', encoder.encode('1')))).toHaveLength(1);
  });

  it('refuses a damaged header or a truncated archive', async () => {
    const damaged = entry('a', encoder.encode('1'));
    damaged[0] = 'b'.charCodeAt(0);
    await expect(readTar(damaged)).rejects.toThrow(TarFormatError);

    const truncated = entry('a', new Uint8Array(2000)).subarray(0, 1024);
    await expect(readTar(truncated)).rejects.toThrow(/truncated/);
    // Cut inside a header, not only inside data.
    const midHeader = concat(entry('a', encoder.encode('1')), entry('b', encoder.encode('2')));
    await expect(readTar(midHeader.subarray(0, 1024 + 100))).rejects.toThrow(/truncated/);
  });
});

describe('readTar on hostile archives', () => {
  const refuse = (archive: Uint8Array, message: RegExp) =>
    expect(readTar(concat(archive, end))).rejects.toThrow(message);

  it('refuses ".." path segments, whichever separator or long-name form carries them', async () => {
    await refuse(entry('../escape.rego', encoder.encode('x')), /"\.\." path segment/);
    await refuse(entry('/a/../../etc/passwd', encoder.encode('x')), /"\.\." path segment/);
    await refuse(entry('a\\..\\..\\x', encoder.encode('x')), /"\.\." path segment/);
    await refuse(entry('x', encoder.encode('x'), '0', '../prefix'), /"\.\." path segment/);
    const pax = entry('PaxHeaders/x', encoder.encode(paxRecord('path', '../../x')), 'x');
    await refuse(concat(pax, entry('innocent', encoder.encode('x'))), /"\.\." path segment/);
    // A name that merely contains dots is a name.
    const dotted = await readTar(concat(entry('a..b/..c', encoder.encode('x')), end));
    expect(dotted.map((file) => file.path)).toEqual(['a..b/..c']);
  });

  it('keeps absolute paths inside the bundle (the leading "/" opa writes is dropped)', async () => {
    const files = await readTar(concat(entry('//etc/passwd', encoder.encode('x')), end));
    expect(files.map((file) => file.path)).toEqual(['etc/passwd']);
  });

  it('refuses symlinks, hard links and device entries instead of skipping them', async () => {
    await refuse(entry('policy.wasm', new Uint8Array(0), '2', '', 0, '/etc/passwd'), /symlink/);
    await refuse(entry('data.json', new Uint8Array(0), '1', '', 0, 'other.json'), /link/);
    await refuse(entry('dev', new Uint8Array(0), '3'), /character-device/);
    await refuse(entry('pipe', new Uint8Array(0), '6'), /fifo/);
  });

  it('refuses a path that appears twice, so no copy silently wins', async () => {
    const twice = concat(
      entry('/data.json', encoder.encode('1')),
      entry('data.json', encoder.encode('2')),
    );
    await refuse(twice, /appears twice/);
  });

  it('treats a huge declared size as truncation, without allocating it', async () => {
    // 8 GiB - 1 declared, a few bytes present.
    const huge = entry('policy.wasm', encoder.encode('tiny'), '0', '', 0o77777777777);
    await expect(readTar(huge)).rejects.toThrow(/truncated/);
    await expect(readTar(concat(huge, end))).rejects.toThrow(/truncated/);
  });

  it('refuses an oversized PAX header before reading it', async () => {
    const header = entry('PaxHeaders/x', new Uint8Array(0), 'x', '', 0o7777777777);
    await expect(readTar(concat(header, end))).rejects.toThrow(TarFormatError);
  });

  it('bounds a gzip bomb by the unpacked size limit, as bundle_invalid', async () => {
    // 257 MiB of zeros compresses to a few hundred KiB; unpacking stops at 256 MiB.
    const gzip = createGzip({ level: 1 });
    const chunks: Buffer[] = [];
    gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
    const done = new Promise((resolve) => gzip.on('end', resolve));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 257; i++) gzip.write(zeros);
    gzip.end();
    await done;
    const bomb = Buffer.concat(chunks);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    await expect(readPolicyBundle(bomb, 'base', 'mandate/base/decision')).rejects.toMatchObject({
      code: 'bundle_invalid',
      cause: { code: 'ERR_BUFFER_TOO_LARGE' },
    });
  });
});
