// A minimal ustar writer: enough for the bundles `mandate policy build` writes (a few small regular files).

const BLOCK = 512;

/** One file to put in an archive; `path` is stored as given (OPA's bundles use a leading `/`). */
export interface TarEntry {
  readonly path: string;
  readonly data: Uint8Array;
}

function writeText(block: Uint8Array, start: number, length: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > length) throw new RangeError(`tar field too long: ${text}`);
  block.set(bytes, start);
}

function writeOctal(block: Uint8Array, start: number, length: number, value: number): void {
  writeText(block, start, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/** Writes a ustar archive: mode 0600, owner 0, mtime 0 (reproducible, like `opa build`). */
export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  const size = entries.reduce(
    (total, entry) => total + BLOCK + Math.ceil(entry.data.length / BLOCK) * BLOCK,
    2 * BLOCK,
  );
  const archive = new Uint8Array(size);
  let offset = 0;
  for (const entry of entries) {
    const header = archive.subarray(offset, offset + BLOCK);
    const name = new TextEncoder().encode(entry.path);
    if (name.length > 100) throw new RangeError(`tar path too long: ${entry.path}`);
    writeText(header, 0, 100, entry.path);
    writeOctal(header, 100, 8, 0o600);
    writeOctal(header, 108, 8, 0);
    writeOctal(header, 116, 8, 0);
    writeOctal(header, 124, 12, entry.data.length);
    writeOctal(header, 136, 12, 0);
    header[156] = '0'.charCodeAt(0);
    writeText(header, 257, 6, 'ustar\0');
    writeText(header, 263, 2, '00');
    // The checksum is computed with its own field read as eight spaces.
    header.fill(0x20, 148, 156);
    const sum = header.reduce((total, byte) => total + byte, 0);
    writeText(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    archive.set(entry.data, offset + BLOCK);
    offset += BLOCK + Math.ceil(entry.data.length / BLOCK) * BLOCK;
  }
  return archive;
}
