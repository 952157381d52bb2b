// Raw protobuf bytes for tests that send what a generated client cannot encode (Structs nested thousands deep).
import { Client, Metadata, credentials, type ServiceError } from '@grpc/grpc-js';

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 127) | 128);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** One length-delimited field's tag and length. */
function header(field: number, length: number): number[] {
  return [...varint((field << 3) | 2), ...varint(length)];
}

/**
 * A google.protobuf.Struct `{"a": {"a": ... 1}}` nested `depth` levels (the outer Struct is one),
 * built inside out in linear time.
 */
export function deepStructBytes(depth: number): Buffer {
  const chunks: number[][] = [];
  // Innermost value: number_value (field 2, fixed64) 1.0.
  let valueLength = 9;
  chunks.push([0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
  let structLength = 0;
  for (let level = 1; level <= depth; level++) {
    const entry = [...header(1, 1), 0x61, ...header(2, valueLength)];
    const entryLength = entry.length + valueLength;
    const structHead = header(1, entryLength);
    structLength = structHead.length + entryLength;
    chunks.push(entry, structHead);
    if (level < depth) {
      // Value{struct_value: ...} around it for the next level.
      const valueHead = header(5, structLength);
      valueLength = valueHead.length + structLength;
      chunks.push(valueHead);
    }
  }
  return Buffer.from(chunks.reverse().flat());
}

/** A length-delimited field holding `body`. */
export function field(number: number, body: Buffer | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(header(number, bytes.length)), bytes]);
}

/** Sends raw request bytes to a unary method; resolves with the raw answer or the gRPC error. */
export function rawUnary(
  target: string,
  path: string,
  message: Buffer,
  metadata: Metadata = new Metadata(),
): Promise<{ ok: true; bytes: Buffer } | { ok: false; error: ServiceError }> {
  const client = new Client(target, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      message,
      metadata,
      (error, bytes) => {
        client.close();
        resolve(error ? { ok: false, error } : { ok: true, bytes: bytes as Buffer });
      },
    );
  });
}
