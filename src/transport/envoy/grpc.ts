// envoy.service.auth.v3.Authorization/Check: Envoy's CheckRequest → EnvoyCall → verdict → CheckResponse.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { status as grpcStatus, type handleUnaryCall } from '@grpc/grpc-js';
import {
  HeaderValueOption_HeaderAppendAction as AppendAction,
  type HeaderValueOption,
} from '../../gen/envoy/config/core/v3/base.js';
import { CheckRequest, type CheckResponse } from '../../gen/envoy/service/auth/v3/external_auth.js';
import { StatusCode } from '../../gen/envoy/type/v3/http_status.js';
import type { EnvoyAuthorizer } from './authz.js';
import { jsonDenial, type EnvoyVerdict, type HeaderPair } from './response.js';
import type { EnvoyCall } from './input.js';
import { attributesJson } from './protojson.js';
import { isOversized, type OversizedRequest } from '../size-guard.js';

/** Fully-qualified name of Envoy's authorization service, for health checks and reflection. */
export const ENVOY_AUTHORIZATION_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';

/** google.rpc.Code values used in CheckResponse.status. */
const OK = 0;
const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

/** Maps Envoy's CheckRequest to the neutral call both adapters share. */
export function envoyCallOf(request: CheckRequest): EnvoyCall {
  const http = request.attributes?.request?.http;
  const headers: Record<string, string> = { ...(http?.headers ?? {}) };
  // With encode_raw_headers Envoy sends header_map instead of headers.
  for (const h of http?.headerMap?.headers ?? []) {
    const key = h.key.toLowerCase();
    const value = h.value !== '' ? h.value : Buffer.from(h.rawValue).toString('utf8');
    headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
  }
  let body: string | undefined;
  let bodyNotUtf8 = false;
  if (http?.body) body = http.body;
  else if (http && http.rawBody.length > 0) {
    body = Buffer.from(http.rawBody).toString('utf8');
    bodyNotUtf8 = !isUtf8(http.rawBody);
  }
  return {
    method: http?.method ?? '',
    path: http?.path || '/',
    headers,
    host: http?.host || headers[':authority'] || headers['host'] || '',
    scheme: http?.scheme || headers['x-forwarded-proto'] || 'https',
    requestId: http?.id || headers['x-request-id'] || '',
    body,
    partialBody: headers['x-envoy-auth-partial-body'] === 'true',
    bodyNotUtf8,
    attributes: attributesJson(request.attributes),
    transport: 'envoy_grpc',
  };
}

function options(pairs: readonly HeaderPair[]): HeaderValueOption[] {
  return pairs.map((h) => ({
    header: { key: h.name, value: h.value, rawValue: Buffer.alloc(0) },
    appendAction: h.overwrite
      ? AppendAction.OVERWRITE_IF_EXISTS_OR_ADD
      : AppendAction.APPEND_IF_EXISTS_OR_ADD,
    keepEmptyValue: false,
  }));
}

/** A status Envoy's HttpStatus enum knows, else 403 (Envoy rejects undefined enum values). */
function envoyStatus(status: number): StatusCode {
  return (StatusCode as Record<number, string | undefined>)[status] !== undefined && status >= 200
    ? (status as StatusCode)
    : StatusCode.Forbidden;
}

/** The CheckResponse for an allow or deny verdict. */
export function checkResponseOf(verdict: Exclude<EnvoyVerdict, { kind: 'error' }>): CheckResponse {
  if (verdict.kind === 'allow') {
    return {
      status: { code: OK, message: '' },
      okResponse: {
        headers: options(verdict.upstreamHeaders),
        headersToRemove: verdict.removeHeaders,
        responseHeadersToAdd: options(verdict.responseHeaders),
        queryParametersToSet: verdict.queryToSet.map((q) => ({ key: q.name, value: q.value })),
        queryParametersToRemove: verdict.queryToRemove,
      },
      dynamicMetadata: verdict.dynamicMetadata,
    };
  }
  return {
    // Only UNAUTHENTICATED and PERMISSION_DENIED: an Envoy that reads other codes as failures would
    // let a denial through under failure_mode_allow.
    status: {
      code: verdict.status === 401 ? UNAUTHENTICATED : PERMISSION_DENIED,
      message: `denied (decision ${verdict.decisionId})`,
    },
    deniedResponse: {
      status: { code: envoyStatus(verdict.status) },
      headers: options(verdict.headers),
      body: verdict.body,
    },
    dynamicMetadata: verdict.dynamicMetadata,
  };
}

/** A `request_invalid` denial of a request that was never decoded, with `status` and why. */
function undecidedDenial(
  status: number,
  message: string,
): Exclude<EnvoyVerdict, { kind: 'error' }> {
  return jsonDenial(randomUUID(), status, [{ code: 'request_invalid', message }]);
}

/**
 * The denial of a CheckRequest over `envoy.grpc_max_request_bytes`: 413, `request_invalid`. An RPC
 * error (RESOURCE_EXHAUSTED) would be a transport failure to Envoy, let through under
 * `failure_mode_allow`.
 */
export function oversizedVerdict(
  request: OversizedRequest,
): Exclude<EnvoyVerdict, { kind: 'error' }> {
  return undecidedDenial(
    413,
    `request: ${request.oversizedBytes} bytes, over envoy.grpc_max_request_bytes (${request.limitBytes})`,
  );
}

/** What the Check deserializer yields for bytes the generated decoder refuses. */
export interface UndecodableRequest {
  /** The decoder's complaint (fixed text, never the request's bytes). */
  readonly undecodable: string;
}

const UNDECODABLE = Symbol('undecodable');

function isUndecodable(request: unknown): request is UndecodableRequest {
  return typeof request === 'object' && request !== null && UNDECODABLE in request;
}

/**
 * The `requestDeserialize` of Envoy's Check: bytes that do not decode (not a CheckRequest, or
 * metadata Structs nested past the decoder's recursion limit of 100 messages, about 32 Struct
 * levels) become a placeholder the handler denies. Thrown here, grpc-js would fail the call with
 * INTERNAL, which Envoy counts as an authorization-service failure and lets through under
 * `failure_mode_allow`.
 */
export function decodeEnvoyCheckRequest(bytes: Buffer): CheckRequest | UndecodableRequest {
  try {
    return CheckRequest.decode(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message.slice(0, 200) : 'undecodable';
    const placeholder: UndecodableRequest & { readonly [UNDECODABLE]: true } = {
      [UNDECODABLE]: true,
      undecodable: why,
    };
    return placeholder;
  }
}

/**
 * The unary handler. A denial is an OK RPC; only `on_error: error_response` failures are RPC
 * errors. Requests come through {@link sizeGuarded} and {@link decodeEnvoyCheckRequest}: one over
 * the limit, or one that does not decode, is answered with a denial.
 */
export function createEnvoyCheckHandler(
  authorizer: EnvoyAuthorizer,
): handleUnaryCall<CheckRequest | OversizedRequest | UndecodableRequest, CheckResponse> {
  return (call, callback) => {
    const request = call.request;
    if (isOversized(request)) {
      callback(null, checkResponseOf(oversizedVerdict(request)));
      return;
    }
    if (isUndecodable(request)) {
      const message = `request: not a decodable CheckRequest (${request.undecodable})`;
      callback(null, checkResponseOf(undecidedDenial(400, message)));
      return;
    }
    void authorizer.authorize(envoyCallOf(request)).then((verdict) => {
      if (verdict.kind === 'error') {
        // UNAVAILABLE is an authorization-service failure to Envoy: failure_mode_allow and
        // status_on_error decide, and the details still say why.
        callback({ code: grpcStatus.UNAVAILABLE, details: verdict.message });
        return;
      }
      callback(null, checkResponseOf(verdict));
    });
  };
}
