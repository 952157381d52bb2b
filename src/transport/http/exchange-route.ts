// POST /v1/exchange: the HTTP adapter of token exchange — JSON in, one ExchangeRequest, a token or an error out.
import type { FastifyPluginAsync } from 'fastify';
import type { TokenExchanger } from '../../exchange/exchanger.js';
import { bearerTokenOf } from '../bearer.js';
import { presentExchangeFailure } from '../exchange-status.js';

const exchangeBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['audience'],
  properties: {
    subject_token: { type: 'string', minLength: 1 },
    audience: { type: 'string', minLength: 1, maxLength: 256 },
    // RFC 6749 §3.3: space-delimited scope tokens.
    scope: { type: 'string', maxLength: 2048 },
    resource: { type: 'string', minLength: 1, maxLength: 2048 },
    tenant: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const;

interface ExchangeBody {
  subject_token?: string;
  audience: string;
  scope?: string;
  resource?: string;
  tenant?: string;
}

/**
 * POST /v1/exchange as a fastify plugin. Without an exchanger (no `exchange:` config) the route
 * still exists and answers 501, so a caller learns why rather than getting a 404.
 */
export function exchangeRoutes(exchanger: TokenExchanger | undefined): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: ExchangeBody }>(
      '/v1/exchange',
      { schema: { body: exchangeBodySchema } },
      async (req, reply) => {
        // RFC 6749 §5.1: a response carrying a token must never be cached by anyone in between.
        reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
        if (exchanger === undefined) {
          return reply.code(501).send({
            error: 'not_configured',
            message: 'token exchange is off: configure the exchange section',
          });
        }
        const body = req.body;
        const header = req.headers.authorization;
        if (body.subject_token !== undefined && header !== undefined) {
          return reply.code(400).send({
            error: 'invalid_request',
            message:
              'subject_token: send the token in the body or the Authorization header, not both',
          });
        }
        if (body.resource !== undefined && !isAbsoluteUri(body.resource)) {
          return reply.code(400).send({
            error: 'invalid_request',
            message: 'resource: must be an absolute URI (RFC 8707)',
          });
        }
        const requestId = req.headers['x-request-id'];
        const result = await exchanger.exchange({
          subjectToken: body.subject_token ?? bearerTokenOf(header),
          audience: body.audience,
          scopes: body.scope?.split(' ').filter((s) => s.length > 0) ?? [],
          ...(body.resource !== undefined ? { resource: body.resource } : {}),
          ...(body.tenant !== undefined ? { tenant: body.tenant } : {}),
          transport: 'http',
          ...(typeof requestId === 'string' ? { requestId } : {}),
        });
        if (!result.ok) {
          const shown = presentExchangeFailure(result);
          if (shown.wwwAuthenticate !== undefined) {
            reply.header('www-authenticate', shown.wwwAuthenticate);
          }
          return reply.code(shown.httpStatus).send(shown.body);
        }
        reply.header('x-mandate-exchange-cache', result.cache);
        return {
          access_token: result.accessToken,
          issued_token_type: result.issuedTokenType,
          token_type: result.tokenType,
          ...(result.expiresIn !== undefined ? { expires_in: result.expiresIn } : {}),
          ...(result.scope !== undefined ? { scope: result.scope } : {}),
          decision_id: result.decision.decisionId,
        };
      },
    );
  };
}

function isAbsoluteUri(value: string): boolean {
  try {
    return new URL(value).protocol.length > 1 && !value.includes('#');
  } catch {
    return false;
  }
}
