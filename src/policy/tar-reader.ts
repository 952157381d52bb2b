// Reads the regular files of an (uncompressed) tar archive with tar-stream, refusing what a bundle must not hold.
// Bundles arrive from the network: links, `..` paths, duplicate paths and damaged or truncated archives are errors.
import { extract } from 'tar-stream';

/** One regular file in an archive. */
export interface TarFile {
  /** Path as stored, with any leading `/` or `./` removed (`/policy.wasm` → `policy.wasm`). */
  readonly path: string;
  readonly data: Uint8Array;
}

/** A malformed or refused archive; the caller wraps it into its own error. */
export class TarFormatError extends Error {
  override readonly name = 'TarFormatError';
}

/** Entry types that carry nothing a bundle needs and nothing that could point outside it. */
const SKIPPED = new Set<string | null>(['directory']);
const REGULAR = new Set<string | null>(['file', 'contiguous-file']);

/**
 * A bundle path is relative to the bundle root: OPA writes `/policy.wasm`, so leading `/` and `./`
 * are dropped, but a `..` segment (either separator) could only be meant to escape the root.
 */
function bundlePath(stored: string): string {
  const path = stored.replace(/^(\.?\/)+/, '');
  if (path.split(/[/\\]/).includes('..')) {
    throw new TarFormatError(`entry ${JSON.stringify(stored)} has a ".." path segment`);
  }
  if (path.includes('\0')) throw new TarFormatError(`entry ${JSON.stringify(stored)} has a NUL`);
  return path;
}

function describe(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  // tar-stream reports a stream that stops inside a header or an entry's data this way.
  return message === 'Unexpected end of data' ? 'archive is truncated' : message;
}

/**
 * Lists the regular files of a tar archive (ustar, PAX and GNU long names), in archive order.
 * Directories are skipped; links, devices, `..` paths and duplicate paths are refused. Entry data
 * is read from `archive` only, so a declared size larger than the archive is a truncation error,
 * never an allocation. Throws {@link TarFormatError}.
 */
export async function readTar(archive: Uint8Array): Promise<TarFile[]> {
  const files: TarFile[] = [];
  const seen = new Set<string>();
  const parser = extract();
  parser.end(Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength));
  try {
    for await (const entry of parser) {
      // tar-stream reports typeflags it does not know as null.
      const { name, type } = entry.header as { name: string; type: string | null };
      if (!REGULAR.has(type)) {
        if (!SKIPPED.has(type)) {
          throw new TarFormatError(
            `entry ${JSON.stringify(name)} is a ${type ?? 'unknown entry'}; a bundle holds regular files only`,
          );
        }
        entry.resume();
        continue;
      }
      const path = bundlePath(name);
      if (seen.has(path)) throw new TarFormatError(`entry ${JSON.stringify(path)} appears twice`);
      seen.add(path);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.push({ path, data: new Uint8Array(Buffer.concat(chunks)) });
    }
  } catch (cause) {
    parser.destroy();
    if (cause instanceof TarFormatError) throw cause;
    throw new TarFormatError(describe(cause), { cause });
  }
  return files;
}
