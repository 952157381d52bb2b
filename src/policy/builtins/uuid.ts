// uuid.parse (fields of a UUID's text, as OPA decodes them) and uuid.rfc4122 (a random v4 UUID, one per key per decision).
import { randomBytes } from 'node:crypto';
import type { JsBuiltin } from '../builtins.js';
import { type HostContext, guarded, jsonText, stringOperand } from './host-builtin.js';

const HEX32 = /^[0-9a-fA-F]{32}$/;

/** The 16 bytes of a UUID in one of the four textual forms Go's uuid.Parse accepts, or undefined. */
function uuidBytes(text: string): Buffer | undefined {
  let body = text;
  if (body.length === 45 && body.slice(0, 9).toLowerCase() === 'urn:uuid:') body = body.slice(9);
  else if (body.length === 38 && body.startsWith('{') && body.endsWith('}'))
    body = body.slice(1, -1);
  let hex: string;
  if (body.length === 36) {
    if (body[8] !== '-' || body[13] !== '-' || body[18] !== '-' || body[23] !== '-')
      return undefined;
    hex =
      body.slice(0, 8) +
      body.slice(9, 13) +
      body.slice(14, 18) +
      body.slice(19, 23) +
      body.slice(24);
  } else if (body.length === 32) {
    hex = body;
  } else {
    return undefined;
  }
  return HEX32.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

function variantOf(byte: number): string {
  if ((byte & 0xc0) === 0x80) return 'RFC4122';
  if ((byte & 0xe0) === 0xc0) return 'Microsoft';
  if ((byte & 0xe0) === 0xe0) return 'Future';
  return 'Reserved';
}

function macVariables(byte: number): string {
  if ((byte & 0b11) === 0b11) return 'local:multicast';
  if ((byte & 0b01) === 0b01) return 'global:multicast';
  if ((byte & 0b10) === 0b10) return 'local:unicast';
  return 'global:unicast';
}

/** 100-ns intervals between 1582-10-15 (the UUID epoch) and 1970-01-01. */
const GREGORIAN_OFFSET = 122_192_928_000_000_000n;

const DOMAINS = ['Person', 'Group', 'Org'];

function parseUuid(value: unknown): ArrayBuffer | undefined {
  const bytes = uuidBytes(stringOperand(value, 1));
  // OPA answers an unparseable UUID with no value (not an error).
  if (bytes === undefined) return undefined;
  const version = bytes[6]! >> 4;
  const fields: string[] = [
    `"version":${version}`,
    `"variant":${JSON.stringify(variantOf(bytes[8]!))}`,
  ];
  if (version === 1 || version === 2) {
    const ticks =
      BigInt(bytes.readUInt32BE(0)) |
      (BigInt(bytes.readUInt16BE(4)) << 32n) |
      (BigInt(bytes.readUInt16BE(6) & 0xfff) << 48n);
    fields.push(`"time":${((ticks - GREGORIAN_OFFSET) * 100n).toString()}`);
    const node = bytes.subarray(10, 16);
    fields.push(
      `"nodeid":${JSON.stringify([...node].map((b) => b.toString(16).padStart(2, '0')).join('-'))}`,
    );
    fields.push(`"macvariables":${JSON.stringify(macVariables(node[0]!))}`);
    fields.push(`"clocksequence":${bytes.readUInt16BE(8) & 0x3fff}`);
    if (version === 2) {
      fields.push(`"id":${bytes.readUInt32BE(0)}`);
      const domain = bytes[9]!;
      fields.push(`"domain":${JSON.stringify(DOMAINS[domain] ?? `Domain${domain}`)}`);
    }
  }
  return jsonText(`{${fields.join(',')}}`);
}

/** A random version 4 UUID in lower-case hex. */
function randomUuid(): string {
  const bytes = randomBytes(16);
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The uuid builtins; uuid.rfc4122 repeats its answer for the same key within one decision, as OPA does within a query. */
export function createUuidBuiltins(context: HostContext): Record<string, JsBuiltin> {
  let decision = -1;
  const issued = new Map<string, string>();
  return {
    'uuid.parse': guarded(parseUuid),
    'uuid.rfc4122': guarded((key: unknown) => {
      const current = context.decision();
      if (current !== decision) {
        decision = current;
        issued.clear();
      }
      const id = JSON.stringify(key);
      let value = issued.get(id);
      if (value === undefined) {
        value = randomUuid();
        issued.set(id, value);
      }
      return value;
    }),
  };
}
