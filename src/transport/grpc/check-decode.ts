// Decodes mandate.v1 CheckRequest bytes with its Struct fields' nesting bounded first, by a scan of the wire format that does not recurse.
import { CheckRequest } from '../../gen/mandate/v1/authorizer.js';
import { nestingMessage } from '../../lib/nesting.js';

/**
 * The deepest Struct the generated decoder takes: it stops at 100 nested messages, and each Struct
 * level is three of them (Struct, its map entry, Value). Past this, decoding fails anyway, so the
 * scan refuses it first and names the field.
 */
export const DECODABLE_STRUCT_DEPTH = 32;

class WireError extends Error {}

interface Cursor {
  pos: number;
}

function varint(bytes: Uint8Array, at: Cursor, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 64; shift += 7) {
    if (at.pos >= end) throw new WireError('truncated varint');
    const b = bytes[at.pos++] as number;
    // Only lengths and tags are used as numbers; larger values are skipped, not read.
    if (shift < 28) value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return value >>> 0;
  }
  throw new WireError('varint too long');
}

/** Skips one field's value of wire type `wire`; returns the end of a length-delimited one. */
function skip(bytes: Uint8Array, at: Cursor, end: number, wire: number): number | undefined {
  switch (wire) {
    case 0:
      varint(bytes, at, end);
      return undefined;
    case 1:
      at.pos += 8;
      break;
    case 2: {
      const length = varint(bytes, at, end);
      const stop = at.pos + length;
      if (stop > end) throw new WireError('length past the end');
      return stop;
    }
    case 5:
      at.pos += 4;
      break;
    default:
      throw new WireError(`wire type ${wire}`);
  }
  if (at.pos > end) throw new WireError('truncated field');
  return undefined;
}

/** Which message a length-delimited field holds, by the message it is in and its field number. */
type Kind = 'struct' | 'entry' | 'value' | 'list';

function childKind(kind: Kind, field: number): Kind | undefined {
  if (kind === 'struct') return field === 1 ? 'entry' : undefined;
  if (kind === 'entry') return field === 2 ? 'value' : undefined;
  if (kind === 'list') return field === 1 ? 'value' : undefined;
  return field === 5 ? 'struct' : field === 6 ? 'list' : undefined;
}

/**
 * True when the Struct in `bytes[start, end)` nests objects and lists more than `max` levels deep
 * (the Struct itself is one), counted the way the JSON form would be. An explicit stack, no calls.
 */
export function structDeeperThan(
  bytes: Uint8Array,
  start: number,
  end: number,
  max: number,
): boolean {
  const kinds: Kind[] = ['struct'];
  const ends: number[] = [end];
  const depths: number[] = [1];
  const at: Cursor = { pos: start };
  while (kinds.length > 0) {
    const top = kinds.length - 1;
    if (at.pos >= (ends[top] as number)) {
      kinds.pop();
      ends.pop();
      depths.pop();
      continue;
    }
    const tag = varint(bytes, at, ends[top] as number);
    const stop = skip(bytes, at, ends[top] as number, tag & 7);
    if (stop === undefined) continue;
    const kind = childKind(kinds[top] as Kind, tag >>> 3);
    if (kind === undefined) {
      at.pos = stop;
      continue;
    }
    const depth = (depths[top] as number) + (kind === 'struct' || kind === 'list' ? 1 : 0);
    if (depth > max) return true;
    kinds.push(kind);
    ends.push(stop);
    depths.push(depth);
  }
  return false;
}

/** The first of `context` (5) and `resource.attributes` (3.3) nested past `max`, named. */
function nestingFailureOf(bytes: Uint8Array, max: number): string | undefined {
  const at: Cursor = { pos: 0 };
  while (at.pos < bytes.length) {
    const tag = varint(bytes, at, bytes.length);
    const stop = skip(bytes, at, bytes.length, tag & 7);
    if (stop === undefined) continue;
    const field = tag >>> 3;
    if (field === 5 && structDeeperThan(bytes, at.pos, stop, max)) {
      return nestingMessage('context', max);
    }
    if (field === 3) {
      // Resource: its field 3 is `attributes`.
      const inner: Cursor = { pos: at.pos };
      while (inner.pos < stop) {
        const innerTag = varint(bytes, inner, stop);
        const innerStop = skip(bytes, inner, stop, innerTag & 7);
        if (innerStop === undefined) continue;
        if (innerTag >>> 3 === 3 && structDeeperThan(bytes, inner.pos, innerStop, max)) {
          return nestingMessage('resource.attributes', max);
        }
        inner.pos = innerStop;
      }
    }
    at.pos = stop;
  }
  return undefined;
}

/** Check's request decoder, and the refusals it made (the handler answers them INVALID_ARGUMENT). */
export interface CheckRequestDecoder {
  /** A `requestDeserialize` for Check: never throws; bytes it refuses decode to a refused request. */
  readonly decode: (bytes: Buffer) => CheckRequest;
  /** Why a request this decoder made was refused, or undefined when it decoded within the bounds. */
  refusalOf(request: object): string | undefined;
}

/**
 * A decoder for Check: the Struct fields' nesting is bounded (by `maxNestingDepth` and by what the
 * decoder can take, whichever is lower) before the recursive decoder runs, and bytes that do not
 * decode become a refused request rather than a transport-level INTERNAL error.
 */
export function createCheckRequestDecoder(maxNestingDepth: number): CheckRequestDecoder {
  const max = Math.min(maxNestingDepth, DECODABLE_STRUCT_DEPTH);
  /** Requests the scan or the decoder refused, with the client-facing reason. */
  const refusals = new WeakMap<object, string>();
  const refused = (reason: string): CheckRequest => {
    const request = CheckRequest.fromPartial({});
    refusals.set(request, reason);
    return request;
  };
  return {
    decode: (bytes) => {
      try {
        const tooDeep = nestingFailureOf(bytes, max);
        if (tooDeep !== undefined) return refused(tooDeep);
        return CheckRequest.decode(bytes);
      } catch (err) {
        return refused(`request: not a valid CheckRequest (${(err as Error).message})`);
      }
    },
    refusalOf: (request) => refusals.get(request),
  };
}
