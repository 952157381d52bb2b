// The gRPC API's file descriptors for server reflection, as `buf build` compiled them (proto/descriptors.binpb).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PackageDefinition } from '@grpc/proto-loader';

/** File name of the descriptor set beside the .proto files; `npm run gen` writes it. */
export const DESCRIPTOR_SET_FILE = 'descriptors.binpb';

/**
 * Every file of the descriptor set, encoded, in the package-definition shape @grpc/reflection reads.
 *
 * Why not proto-loader's descriptors: proto-loader merges files by package under made-up names and
 * drops their imports, so reflection clients (grpcurl) could not resolve `google.protobuf.Struct` or
 * health's map fields. buf keeps each file's real name and dependencies, well-known types included.
 */
export function loadReflectionFiles(protoDir: string): PackageDefinition {
  const fileDescriptorProtos = splitDescriptorSet(
    readFileSync(join(protoDir, DESCRIPTOR_SET_FILE)),
  );
  // Reflection reads only `fileDescriptorProtos`; the other members make it a valid definition.
  return { files: { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos } };
}

/**
 * The encoded `file` entries of a FileDescriptorSet (`repeated FileDescriptorProto file = 1`):
 * each is the key byte 0x0a, a varint length, then the file's bytes.
 */
export function splitDescriptorSet(set: Buffer): Buffer[] {
  const files: Buffer[] = [];
  let at = 0;
  while (at < set.length) {
    if (set[at] !== 0x0a)
      throw new Error(`descriptor set: unexpected field key ${set[at]} at ${at}`);
    at += 1;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = set[at++];
      if (byte === undefined || shift > 28) throw new Error('descriptor set: bad length');
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    if (at + length > set.length) throw new Error('descriptor set: truncated');
    files.push(set.subarray(at, at + length));
    at += length;
  }
  return files;
}
