// Writes the tar archives `mandate policy build` produces (a few small regular files) with tar-stream.
import { pack } from 'tar-stream';

/** One file to put in an archive; `path` is stored as given (OPA's bundles use a leading `/`). */
export interface TarEntry {
  readonly path: string;
  readonly data: Uint8Array;
}

/** Writes a tar archive: mode 0600, owner 0, mtime 0 (reproducible, like `opa build`). */
export async function writeTar(entries: readonly TarEntry[]): Promise<Uint8Array> {
  const packer = pack();
  for (const entry of entries) {
    packer.entry(
      { name: entry.path, mode: 0o600, uid: 0, gid: 0, mtime: new Date(0), type: 'file' },
      Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength),
    );
  }
  packer.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of packer) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
