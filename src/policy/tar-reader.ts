// A minimal reader for (uncompressed) ustar archives: enough for the bundles `opa build` writes.
// Handles regular files, PAX (`x`) and GNU (`L`) long names; skips everything else.

const BLOCK = 512;

/** One regular file in an archive. `data` is a view into the archive buffer, not a copy. */
export interface TarFile {
  /** Path as stored, with any leading `/` or `./` removed (`/policy.wasm` → `policy.wasm`). */
  readonly path: string;
  readonly data: Uint8Array;
}

/** A malformed archive; the caller wraps it into its own error. */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function text(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return utf8.decode(end === -1 ? field : field.subarray(0, end));
}

/** Numeric fields are octal text; sizes over 8 GiB use GNU base-256 (high bit set). */
function number(block: Uint8Array, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const digits = latin1.decode(field).replace(/\0.*$/s, '').trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits))
    throw new TarFormatError(`bad numeric field: ${JSON.stringify(digits)}`);
  return parseInt(digits, 8);
}

function checksumMatches(block: Uint8Array): boolean {
  const stored = number(block, 148, 8);
  let sum = 0;
  // The checksum field itself counts as eight spaces.
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === stored;
}

/** PAX records are `"<len> <key>=<value>\n"`; only `path` matters to us. */
function paxPath(data: Uint8Array): string | undefined {
  const records = utf8.decode(data);
  let path: string | undefined;
  let at = 0;
  while (at < records.length) {
    const space = records.indexOf(' ', at);
    if (space === -1) break;
    const length = parseInt(records.slice(at, space), 10);
    if (!Number.isFinite(length) || length <= 0) throw new TarFormatError('bad PAX record');
    const record = records.slice(space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (eq !== -1 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += length;
  }
  return path;
}

function normalise(path: string): string {
  return path.replace(/^(\.?\/)+/, '');
}

/** Lists the regular files of a ustar archive, in archive order. Throws {@link TarFormatError}. */
export function readTar(archive: Uint8Array): TarFile[] {
  const files: TarFile[] = [];
  let longName: string | undefined;
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    // The archive ends with zero blocks.
    if (header.every((byte) => byte === 0)) break;
    if (!checksumMatches(header)) throw new TarFormatError(`bad header checksum at byte ${offset}`);

    const size = number(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > archive.length) throw new TarFormatError('archive is truncated');
    const data = archive.subarray(dataStart, dataEnd);

    if (type === 'x') {
      longName = paxPath(data) ?? longName;
    } else if (type === 'L') {
      longName = text(data, 0, data.length);
    } else {
      if (type === '0' || type === '\0' || type === '7') {
        const magic = latin1.decode(header.subarray(257, 262));
        const prefix = magic === 'ustar' ? text(header, 345, 155) : '';
        const name = text(header, 0, 100);
        const path = longName ?? (prefix === '' ? name : `${prefix}/${name}`);
        files.push({ path: normalise(path), data });
      }
      // Directories, links, global PAX headers and the like carry nothing we need.
      longName = undefined;
    }
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}
