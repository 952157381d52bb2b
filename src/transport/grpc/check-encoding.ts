// The wire form of CheckResponse: a cached token's allow written from bytes made once per subject, everything else by ts-proto.
//
// Answers to repeated checks of one cached token differ only in their decision id. Encoding the
// whole message (response, subject, scopes, act chain) costs more than the rest of such a check's
// gRPC handling, so the allow is kept as bytes per frozen Subject and deciding layer, and only
// the id field is written per answer. The bytes are exactly ts-proto's (fields in number order,
// defaults left out), which a test compares.
import type { Decision } from '../../core/decision.js';
import { CheckResponse } from '../../gen/mandate/v1/authorizer.js';
import { cachedAllowParts } from '../cached-allow.js';

/** A response already on the wire form, handed through the service's serializer untouched. */
export class EncodedCheckResponse {
  constructor(readonly bytes: Buffer) {}
}

/** The Check serializer: encoded answers as they are, any other response through ts-proto. */
export function serializeCheckResponse(value: CheckResponse | EncodedCheckResponse): Buffer {
  if (value instanceof EncodedCheckResponse) return value.bytes;
  return Buffer.from(CheckResponse.encode(value).finish());
}

/** Field 1 (allow, varint) = true, then field 2's tag (decision_id, length-delimited). */
const ALLOW_TRUE = [0x08, 0x01];
const DECISION_ID_TAG = 0x12;
/** Our decision ids: version 4 UUIDs, 36 ASCII characters (a one-byte length). */
const ID_LENGTH = 36;
const HEAD = ALLOW_TRUE.length + 2 + ID_LENGTH;

/** Fields 4 (subject) and 5 (decided_by) of an allow, per frozen Subject and deciding layer. */
const tailOf = cachedAllowParts((subject, decidedBy) =>
  // allow and decision_id left at their defaults, so ts-proto writes fields 4 and 5 alone.
  Buffer.from(
    CheckResponse.encode({
      allow: false,
      decisionId: '',
      reasons: [],
      subject: {
        sub: subject.sub ?? '',
        tenant: subject.tenant ?? '',
        clientId: subject.clientId ?? '',
        scopes: subject.scopes,
        act: subject.act,
      },
      decidedBy: decidedBy ?? '',
    }).finish(),
  ),
);

/**
 * The wire form of an allow with no reasons for a cached token (a frozen Subject), or undefined
 * for any other decision, which the caller maps and ts-proto encodes.
 */
export function encodedAllowOf(decision: Decision): EncodedCheckResponse | undefined {
  const id = decision.decisionId;
  const tail = id.length === ID_LENGTH ? tailOf(decision) : undefined;
  if (tail === undefined) return undefined;
  const bytes = Buffer.allocUnsafe(HEAD + tail.length);
  bytes[0] = ALLOW_TRUE[0] as number;
  bytes[1] = ALLOW_TRUE[1] as number;
  bytes[2] = DECISION_ID_TAG;
  bytes[3] = ID_LENGTH;
  // ASCII (as a UUID is) is one byte per character; anything else goes through ts-proto.
  let seen = 0;
  for (let i = 0; i < ID_LENGTH; i++) {
    const c = id.charCodeAt(i);
    seen |= c;
    bytes[4 + i] = c;
  }
  if (seen > 0x7f) return undefined;
  bytes.set(tail, HEAD);
  return new EncodedCheckResponse(bytes);
}
