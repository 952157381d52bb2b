// The mandate.v1.Authorizer/Check adapter: CheckRequest + metadata → AuthzRequest → decide() → CheckResponse.
import { randomUUID } from 'node:crypto';
import { status, type handleUnaryCall, type Metadata } from '@grpc/grpc-js';
import type { Decider, Decision } from '../../core/decision.js';
import type { AuthzRequest, ResourceRef } from '../../core/request.js';
import type { CheckRequest, CheckResponse } from '../../gen/mandate/v1/authorizer.js';
import { DEFAULT_MAX_NESTING_DEPTH, nestingFailureOf } from '../../lib/nesting.js';
import { bearerTokenOf, dpopTokenOf } from '../bearer.js';
import type { CheckRequestDecoder } from './check-decode.js';
import { encodedAllowOf, type EncodedCheckResponse } from './check-encoding.js';

/** Longest accepted `action`, `tenant`, `resource.type` and request id, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 256;
/** Longest accepted `resource.id`, in UTF-16 code units. */
export const MAX_RESOURCE_ID_LENGTH = 1024;

/** The slice of a pino logger the Check handler needs. */
export interface CheckLogger {
  error(fields: object, message: string): void;
}

export interface CheckHandlerDeps {
  readonly decider: Decider;
  /** The decoder of the service's requests: those it refused are answered INVALID_ARGUMENT. */
  readonly decoder: Pick<CheckRequestDecoder, 'refusalOf'>;
  /** Receives decide() failures; the caller only ever sees `internal_error`. */
  readonly logger: CheckLogger;
  /** Deepest nesting accepted in `context` and `resource.attributes`. Default 64. */
  readonly maxNestingDepth?: number;
}

/**
 * Builds the unary handler for `mandate.v1.Authorizer/Check`.
 *
 * A malformed request fails with INVALID_ARGUMENT naming the offending field. Every other outcome,
 * deny included, is an OK response: denials are answers, not transport errors. If the decider
 * breaks its never-throws contract the answer is a fail-closed deny with `internal_error`.
 */
export function createCheckHandler(
  deps: CheckHandlerDeps,
): handleUnaryCall<CheckRequest, CheckResponse | EncodedCheckResponse> {
  const { decider, decoder, logger } = deps;
  const maxNestingDepth = deps.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH;

  function fail(err: unknown, request: AuthzRequest): CheckResponse {
    const decisionId = randomUUID();
    // The request is not logged: it may carry the token.
    logger.error({ err, decisionId, requestId: request.requestId }, 'grpc check: decide() failed');
    return internalError(decisionId);
  }

  return (call, callback) => {
    const request =
      decoder.refusalOf(call.request) ??
      toAuthzRequest(call.request, call.metadata, call.getPeer(), maxNestingDepth);
    if (typeof request === 'string') {
      callback({ code: status.INVALID_ARGUMENT, details: request });
      return;
    }
    const answer = (decision: Decision) => {
      let response: CheckResponse | EncodedCheckResponse;
      try {
        response = encodedAllowOf(decision) ?? toCheckResponse(decision);
      } catch (err) {
        response = fail(err, request);
      }
      callback(null, response);
    };
    // A synchronous throw and a rejection from decide() both end in a fail-closed answer.
    let decided: Decision | Promise<Decision>;
    try {
      decided = decider.decide(request);
    } catch (err) {
      callback(null, fail(err, request));
      return;
    }
    if (decided instanceof Promise) {
      decided.then(answer, (err: unknown) => callback(null, fail(err, request)));
    } else {
      answer(decided);
    }
  };
}

/**
 * Validates a CheckRequest and maps it, with its call metadata, to the transport-agnostic request.
 * Returns a message naming the offending field when the request is malformed.
 */
export function toAuthzRequest(
  message: CheckRequest,
  metadata: Metadata,
  peer?: string,
  maxNestingDepth: number = DEFAULT_MAX_NESTING_DEPTH,
): AuthzRequest | string {
  const { action, tenant } = message;
  if (action === '') return 'action is required';
  if (action.length > MAX_NAME_LENGTH)
    return `action must be at most ${MAX_NAME_LENGTH} characters`;
  if (tenant.length > MAX_NAME_LENGTH)
    return `tenant must be at most ${MAX_NAME_LENGTH} characters`;

  let requestId: string | undefined = message.requestId;
  if (requestId.length > MAX_NAME_LENGTH) {
    return `request_id must be at most ${MAX_NAME_LENGTH} characters`;
  }
  if (requestId === '') {
    requestId = firstString(metadata, 'x-request-id');
    if (requestId !== undefined && requestId.length > MAX_NAME_LENGTH) {
      return `x-request-id metadata must be at most ${MAX_NAME_LENGTH} characters`;
    }
  }

  let resource: ResourceRef | undefined;
  if (message.resource !== undefined) {
    const { type, id, attributes } = message.resource;
    if (type === '') return 'resource.type is required when resource is set';
    if (type.length > MAX_NAME_LENGTH) {
      return `resource.type must be at most ${MAX_NAME_LENGTH} characters`;
    }
    if (id.length > MAX_RESOURCE_ID_LENGTH) {
      return `resource.id must be at most ${MAX_RESOURCE_ID_LENGTH} characters`;
    }
    resource = { type, id: id === '' ? undefined : id, attributes };
  }

  const tooDeep = nestingFailureOf(
    [
      ['resource.attributes', resource?.attributes],
      ['context', message.context],
    ],
    maxNestingDepth,
  );
  if (tooDeep !== undefined) return tooDeep;

  const header = firstString(metadata, 'authorization');
  if (message.token !== '' && header !== undefined) {
    return 'token: send the token in the field or the authorization metadata, not both';
  }
  let token = message.token !== '' ? message.token : bearerTokenOf(header);
  // `authorization: DPoP <token>` needs a proof for a request this API does not see: decided with
  // that said (refused), never taken as a bearer token (RFC 9449 §7.1).
  let dpop: AuthzRequest['dpop'];
  if (token === undefined && header !== undefined) {
    token = dpopTokenOf(header);
    if (token !== undefined) dpop = { scheme: 'dpop', proof: undefined, request: undefined };
  }
  return {
    token,
    dpop,
    action,
    resource,
    tenant: tenant === '' ? undefined : tenant,
    context: message.context,
    transport: 'grpc',
    requestId: requestId === '' ? undefined : requestId,
    peer,
  };
}

/** Maps a decision to the wire; proto3 strings have no "absent", so absent becomes "". */
export function toCheckResponse(decision: Decision): CheckResponse {
  const { subject } = decision;
  return {
    allow: decision.allow,
    decisionId: decision.decisionId,
    reasons: decision.reasons,
    subject:
      subject === undefined
        ? undefined
        : {
            sub: subject.sub ?? '',
            tenant: subject.tenant ?? '',
            clientId: subject.clientId ?? '',
            scopes: subject.scopes,
            act: subject.act,
          },
    decidedBy: decision.decidedBy ?? '',
  };
}

function internalError(decisionId: string): CheckResponse {
  return {
    allow: false,
    decisionId,
    reasons: [{ code: 'internal_error', message: 'authorization failed unexpectedly' }],
    decidedBy: '',
  };
}

/** The first text value of a metadata key; binary (`-bin`) values never carry these. */
function firstString(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : undefined;
}
