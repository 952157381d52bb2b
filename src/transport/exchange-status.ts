// The one exhaustive map from an exchange failure to its HTTP status, gRPC status and JSON error body.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { isCallerRejection, type ExchangeFailure } from '../exchange/errors.js';
import { presentDenial, type ChallengeContext } from './denial-presentation.js';

export interface ExchangeFailurePresentation {
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatus;
  /** RFC 6750 challenge on 401 and on a scope denial. */
  readonly wwwAuthenticate?: string;
  readonly body: {
    readonly error: string;
    readonly message: string;
    readonly decision_id: string;
    readonly reasons?: readonly { readonly code: string; readonly message: string }[];
    readonly as_error?: string;
    readonly as_status?: number;
  };
}

const GRPC_OF_HTTP: Readonly<Record<number, GrpcStatus>> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  500: GrpcStatus.INTERNAL,
  502: GrpcStatus.UNAVAILABLE,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.DEADLINE_EXCEEDED,
};

/**
 * The presentation of a failed exchange. `scheme` is how the subject token came, when the adapter
 * saw it (Envoy egress): a DPoP-scheme token is answered with a DPoP challenge (RFC 9449 §7.1).
 */
export function presentExchangeFailure(
  failure: ExchangeFailure,
  scheme?: ChallengeContext['scheme'],
): ExchangeFailurePresentation {
  const decisionId = failure.decision.decisionId;
  let httpStatus: number;
  let wwwAuthenticate: string | undefined;
  let error: string;
  switch (failure.code) {
    case 'denied': {
      const first = failure.decision.reasons[0] ?? {
        code: 'policy_denied' as const,
        message: failure.message,
      };
      // The scope an RFC 6750 challenge names: what an exchange needs is the scope it asked for.
      const shown = presentDenial(first, 'token.exchange', {
        ...(scheme !== undefined ? { scheme } : {}),
        ...(failure.decision.dpopError !== undefined
          ? { dpopError: failure.decision.dpopError }
          : {}),
      });
      httpStatus = shown.status;
      wwwAuthenticate = shown.wwwAuthenticate;
      error = 'access_denied';
      return {
        httpStatus,
        grpcStatus: GRPC_OF_HTTP[httpStatus] ?? GrpcStatus.PERMISSION_DENIED,
        ...(wwwAuthenticate !== undefined ? { wwwAuthenticate } : {}),
        body: {
          error,
          message: failure.message,
          decision_id: decisionId,
          reasons: failure.decision.reasons,
        },
      };
    }
    case 'as_rejected':
      // The AS refused what the caller asked for (403), or refused mandate's own client (502).
      httpStatus = isCallerRejection(failure.asError) ? 403 : 502;
      error = 'exchange_rejected';
      break;
    case 'as_unavailable':
      httpStatus = 503;
      error = 'as_unavailable';
      break;
    case 'as_timeout':
      httpStatus = 504;
      error = 'as_timeout';
      break;
    case 'as_invalid_response':
      httpStatus = 502;
      error = 'as_invalid_response';
      break;
    case 'internal_error':
      httpStatus = 500;
      error = 'internal_error';
      break;
  }
  return {
    httpStatus,
    grpcStatus: GRPC_OF_HTTP[httpStatus] ?? GrpcStatus.UNKNOWN,
    body: {
      error,
      message: failure.message,
      decision_id: decisionId,
      ...(failure.asError !== undefined ? { as_error: failure.asError } : {}),
      ...(failure.asStatus !== undefined ? { as_status: failure.asStatus } : {}),
    },
  };
}
