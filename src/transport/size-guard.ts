// Request size limits per service on one grpc-js server, whose own receive limit is one number for all.
import { status as grpcStatus, type handleUnaryCall } from '@grpc/grpc-js';

/** What a guarded deserializer yields for a message over its limit (not decoded). */
export interface OversizedRequest {
  readonly oversizedBytes: number;
  readonly limitBytes: number;
}

const OVERSIZED = Symbol('oversized');

/** Whether a request is the placeholder of a message over its service's limit. */
export function isOversized(request: unknown): request is OversizedRequest {
  return typeof request === 'object' && request !== null && OVERSIZED in request;
}

/**
 * A deserializer that decodes messages up to `limitBytes` and stands in for larger ones, so the
 * handler can answer them rather than the transport failing the call.
 */
export function sizeGuarded<T>(
  decode: (buffer: Buffer) => T,
  limitBytes: number,
): (buffer: Buffer) => T | OversizedRequest {
  return (buffer) =>
    buffer.length > limitBytes
      ? { [OVERSIZED]: true, oversizedBytes: buffer.length, limitBytes }
      : decode(buffer);
}

/** The handler, with an over-limit request failed `RESOURCE_EXHAUSTED` as grpc-js itself would. */
export function refusingOversized<Req, Res>(
  handler: handleUnaryCall<Req, Res>,
): handleUnaryCall<Req | OversizedRequest, Res> {
  return (call, callback) => {
    const request = call.request;
    if (isOversized(request)) {
      callback({
        code: grpcStatus.RESOURCE_EXHAUSTED,
        details: `Received message larger than max (${request.oversizedBytes} vs. ${request.limitBytes})`,
      });
      return;
    }
    handler(call as Parameters<typeof handler>[0], callback);
  };
}
