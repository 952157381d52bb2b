// The ustar reader: plain entries, the long-name extensions, and refusing damaged archives.
import { describe, expect, it } from 'vitest';
import { TarFormatError, readTar } from '../../src/policy/tar-reader.js';

const encoder = new TextEncoder();

/** One 512-byte header plus padded data; `type` is the typeflag character. */
function entry(name: string, data: Uint8Array, type = '0', prefix = ''): Uint8Array {
  const header = new Uint8Array(512);
  const put = (offset: number, text: string) => header.set(encoder.encode(text), offset);
  put(0, name);
  put(100, '0000644\0');
  put(124, `${data.length.toString(8).padStart(11, '0')}\0`);
  put(136, '00000000000\0');
  put(156, type);
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
  it('reads regular files and strips the leading slash opa writes', () => {
    const archive = concat(
      entry('/data.json', encoder.encode('{}')),
      entry('/dir/', new Uint8Array(0), '5'),
      entry('/policy.wasm', new Uint8Array(600).fill(7)),
      end,
    );
    const files = readTar(archive);
    expect(files.map((file) => file.path)).toEqual(['data.json', 'policy.wasm']);
    expect(text(files[0]!.data)).toBe('{}');
    expect(files[1]!.data.length).toBe(600);
  });

  it('joins the ustar prefix field', () => {
    const files = readTar(concat(entry('file.rego', encoder.encode('x'), '0', 'some/prefix'), end));
    expect(files[0]?.path).toBe('some/prefix/file.rego');
  });

  it('applies PAX and GNU long names to the next entry only', () => {
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
    expect(readTar(archive).map((file) => [file.path, text(file.data)])).toEqual([
      [longName, 'pax'],
      ['b'.repeat(110), 'gnu'],
      ['short', 'plain'],
    ]);
  });

  it('stops at the end-of-archive blocks even without both', () => {
    expect(readTar(concat(entry('a', encoder.encode('1')), new Uint8Array(512)))).toHaveLength(1);
    expect(readTar(entry('a', encoder.encode('1')))).toHaveLength(1);
  });

  it('refuses a damaged header or a truncated archive', () => {
    const damaged = entry('a', encoder.encode('1'));
    damaged[0] = 'b'.charCodeAt(0);
    expect(() => readTar(damaged)).toThrow(TarFormatError);

    const truncated = entry('a', new Uint8Array(2000)).subarray(0, 1024);
    expect(() => readTar(truncated)).toThrow(/truncated/);
  });
});
