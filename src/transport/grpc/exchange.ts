// The mandate.v1.Authorizer/Exchange adapter: ExchangeRequest + metadata → ExchangeRequest → exchanger → ExchangeResponse or a status.
import { Metadata, status, type handleUnaryCall } from '@grpc/grpc-js';
import type { ExchangeRequest, TokenExchanger } from '../../exchange/exchanger.js';
import type {
  ExchangeRequest as ExchangeMessage,
  ExchangeResponse,
} from '../../gen/mandate/v1/authorizer.js';
import { bearerTokenOf } from '../bearer.js';
import { presentExchangeFailure } from '../exchange-status.js';

const MAX_NAME = 256;
const MAX_SCOPE = 2048;

/** The slice of a pino logger the handler needs. */
export interface ExchangeLogger {
  error(fields: object, message: string): void;
}

export interface ExchangeHandlerDeps {
  /** Undefined when `exchange:` is not configured: every call fails with FAILED_PRECONDITION. */
  readonly exchanger?: TokenExchanger;
  readonly logger: ExchangeLogger;
}

/** Builds the unary handler for `mandate.v1.Authorizer/Exchange`. */
export function createExchangeHandler(
  deps: ExchangeHandlerDeps,
): handleUnaryCall<ExchangeMessage, ExchangeResponse> {
  const { exchanger, logger } = deps;
  return (call, callback) => {
    if (exchanger === undefined) {
      callback({
        code: status.FAILED_PRECONDITION,
        details: 'token exchange is off: configure the exchange section',
        metadata: trailers({ 'mandate-error': 'not_configured' }),
      });
      return;
    }
    const parsed = toExchangeRequest(call.request, call.metadata);
    if (typeof parsed === 'string') {
      callback({ code: status.INVALID_ARGUMENT, details: parsed });
      return;
    }
    exchanger.exchange(parsed).then(
      (result) => {
        if (result.ok) {
          callback(null, {
            accessToken: result.accessToken,
            issuedTokenType: result.issuedTokenType,
            tokenType: result.tokenType,
            expiresIn: result.expiresIn ?? 0,
            scope: result.scope ?? '',
            decisionId: result.decision.decisionId,
            cache: result.cache,
          });
          return;
        }
        const shown = presentExchangeFailure(result);
        callback({
          code: shown.grpcStatus,
          details: shown.body.message,
          metadata: trailers({
            'mandate-error': shown.body.error,
            'mandate-decision-id': shown.body.decision_id,
            ...(shown.body.reasons
              ? { 'mandate-reason-codes': shown.body.reasons.map((r) => r.code).join(',') }
              : {}),
            ...(shown.body.as_error !== undefined
              ? { 'mandate-as-error': shown.body.as_error }
              : {}),
          }),
        });
      },
      (err: unknown) => {
        // exchange() never rejects by contract; if it does, fail closed without the request (it holds a token).
        logger.error({ err }, 'grpc exchange: exchange() failed');
        callback({ code: status.INTERNAL, details: 'the exchange failed unexpectedly' });
      },
    );
  };
}

/** Validates the message and maps it, with its metadata, to the exchanger's request; a string names the bad field. */
export function toExchangeRequest(
  message: ExchangeMessage,
  metadata: Metadata,
): ExchangeRequest | string {
  const { audience, scope, resource, tenant } = message;
  if (audience === '') return 'audience is required';
  if (audience.length > MAX_NAME) return `audience must be at most ${MAX_NAME} characters`;
  if (scope.length > MAX_SCOPE) return `scope must be at most ${MAX_SCOPE} characters`;
  if (tenant.length > MAX_NAME) return `tenant must be at most ${MAX_NAME} characters`;
  if (resource !== '' && !isAbsoluteUri(resource)) {
    return 'resource must be an absolute URI (RFC 8707)';
  }
  let requestId = message.requestId;
  if (requestId === '') requestId = firstString(metadata, 'x-request-id') ?? '';
  if (requestId.length > MAX_NAME) return `request_id must be at most ${MAX_NAME} characters`;
  const header = firstString(metadata, 'authorization');
  if (message.subjectToken !== '' && header !== undefined) {
    return 'subject_token: send the token in the field or the authorization metadata, not both';
  }
  return {
    subjectToken: message.subjectToken !== '' ? message.subjectToken : bearerTokenOf(header),
    audience,
    scopes: scope.split(' ').filter((s) => s.length > 0),
    ...(resource !== '' ? { resource } : {}),
    ...(tenant !== '' ? { tenant } : {}),
    transport: 'grpc',
    ...(requestId !== '' ? { requestId } : {}),
  };
}

function isAbsoluteUri(value: string): boolean {
  try {
    new URL(value);
    return !value.includes('#') && value.length <= MAX_SCOPE;
  } catch {
    return false;
  }
}

function trailers(values: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(values)) metadata.set(key, value);
  return metadata;
}

function firstString(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : undefined;
}
