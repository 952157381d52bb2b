// POST /v1/check: the HTTP adapter of the Check API — JSON in, one AuthzRequest, one Decision, JSON out.
import type { FastifyPluginAsync } from 'fastify';
import type { Decider, Decision } from '../../core/decision.js';
import type { AuthzRequest, ResourceRef } from '../../core/request.js';
import { DEFAULT_MAX_NESTING_DEPTH, nestingFailureOf } from '../../lib/nesting.js';
import { bearerTokenOf, dpopTokenOf } from '../bearer.js';
import { subjectToWire } from '../../core/subject-wire.js';
import { cachedAllowParts } from '../cached-allow.js';

const MAX_NAME = 256;

const checkBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: {
    token: { type: 'string', minLength: 1 },
    action: { type: 'string', minLength: 1, maxLength: MAX_NAME },
    resource: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { type: 'string', minLength: 1, maxLength: MAX_NAME },
        id: { type: 'string', maxLength: 1024 },
        attributes: { type: 'object' },
      },
    },
    tenant: { type: 'string', minLength: 1, maxLength: MAX_NAME },
    context: { type: 'object' },
  },
} as const;

const checkResponseSchema = {
  type: 'object',
  properties: {
    allow: { type: 'boolean' },
    decision_id: { type: 'string' },
    reasons: {
      type: 'array',
      items: {
        type: 'object',
        properties: { code: { type: 'string' }, message: { type: 'string' } },
      },
    },
    decided_by: { type: 'string' },
    subject: {
      type: 'object',
      properties: {
        sub: { type: 'string' },
        tenant: { type: 'string' },
        client_id: { type: 'string' },
        scopes: { type: 'array', items: { type: 'string' } },
        act: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

interface CheckBody {
  token?: string;
  action: string;
  resource?: ResourceRef;
  tenant?: string;
  context?: Record<string, unknown>;
}

/** The JSON answer of /v1/check (also used by the CLI). */
export function checkResponseOf(decision: Decision) {
  const s = decision.subject;
  return {
    allow: decision.allow,
    decision_id: decision.decisionId,
    reasons: decision.reasons,
    // undefined properties are left out by the response serializer and by JSON.
    decided_by: decision.decidedBy,
    subject: s === undefined ? undefined : subjectToWire(s),
  };
}

/**
 * What follows the decision id in an allow answer, per frozen Subject (one per cached token) and
 * deciding layer: written once, so an answer is one concatenation.
 */
const allowTailOf = cachedAllowParts((s, decidedBy) => {
  const subject = subjectToWire(s);
  const by = decidedBy === undefined ? '' : `,"decided_by":${JSON.stringify(decidedBy)}`;
  return `","reasons":[]${by},"subject":${JSON.stringify(subject)}}`;
});

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The answer's JSON, written without the schema serializer, for the common answer: an allow with
 * no reasons for a cached token. Only the decision id (a UUID, nothing to escape) changes from one
 * such answer to the next. Same members, same order, as the serializer writes. Undefined otherwise.
 */
function allowJsonOf(decision: Decision): string | undefined {
  const tail = allowTailOf(decision);
  return tail === undefined
    ? undefined
    : `{"allow":true,"decision_id":"${decision.decisionId}${tail}`;
}

/** A connection's socket, as far as naming its peer goes. */
interface PeerSocket {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/**
 * The caller's `address:port` (`[v6]:port`) of a socket, made once per connection (it cannot
 * change on one) and remembered by the returned function for as long as the socket lives.
 */
function createPeerNames(): (socket: PeerSocket) => string | undefined {
  const peers = new WeakMap<PeerSocket, string>();
  return (socket) => {
    let peer = peers.get(socket);
    if (peer === undefined) {
      const address = socket.remoteAddress;
      // Gone once the connection closed; nothing to remember then.
      if (address === undefined) return undefined;
      peer = address.includes(':')
        ? `[${address}]:${socket.remotePort}`
        : `${address}:${socket.remotePort}`;
      peers.set(socket, peer);
    }
    return peer;
  };
}

/**
 * Whether the `authorization` header came more than once. Node keeps only the first, but a server
 * behind could read another: a credential given twice is refused, like one in body and header.
 */
function repeatedAuthorization(rawHeaders: readonly string[]): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}

/** POST /v1/check as a fastify plugin over `decider`; deeper `resource.attributes` or `context` than `maxNestingDepth` is a 400. */
export function checkRoutes(
  decider: Decider,
  maxNestingDepth: number = DEFAULT_MAX_NESTING_DEPTH,
): FastifyPluginAsync {
  return async (app) => {
    const peerOf = createPeerNames();
    app.post<{ Body: CheckBody }>(
      '/v1/check',
      { schema: { body: checkBodySchema, response: { 200: checkResponseSchema } } },
      // Not async: a cached token's decision is answered in this call, without a promise.
      (req, reply) => {
        const body = req.body;
        const header = req.headers.authorization;
        if (body.token !== undefined && header !== undefined) {
          void reply.code(400).send({
            error: 'invalid_request',
            message: 'token: send the token in the body or the Authorization header, not both',
          });
          return undefined;
        }
        if (header !== undefined && repeatedAuthorization(req.raw.rawHeaders)) {
          void reply.code(400).send({
            error: 'invalid_request',
            message: 'authorization: send one Authorization header',
          });
          return undefined;
        }
        // Bounded here, before anything recurses into them, so the answer names the field.
        const tooDeep =
          body.context === undefined && body.resource?.attributes === undefined
            ? undefined
            : nestingFailureOf(
                [
                  ['resource.attributes', body.resource?.attributes],
                  ['context', body.context],
                ],
                maxNestingDepth,
              );
        if (tooDeep !== undefined) {
          void reply.code(400).send({ error: 'invalid_request', message: tooDeep });
          return undefined;
        }
        let token = body.token ?? bearerTokenOf(header);
        // `Authorization: DPoP <token>` (RFC 9449 §7.1) needs a proof for the protected request, which
        // this API does not see: the token is decided with that said, so it is refused, never taken
        // as a bearer token (or reported missing).
        let dpop: AuthzRequest['dpop'];
        if (token === undefined && header !== undefined) {
          token = dpopTokenOf(header);
          if (token !== undefined) dpop = { scheme: 'dpop', proof: undefined, request: undefined };
        }
        const requestId = req.headers['x-request-id'];
        const request: AuthzRequest = {
          token,
          dpop,
          action: body.action,
          resource: body.resource,
          tenant: body.tenant,
          context: body.context,
          transport: 'http',
          requestId: typeof requestId === 'string' ? requestId : undefined,
          peer: peerOf(req.socket),
        };
        const answer = (decision: Decision) => {
          const json = allowJsonOf(decision);
          if (json === undefined) return checkResponseOf(decision);
          void reply.type(JSON_TYPE);
          return json;
        };
        const decided = decider.decide(request);
        return decided instanceof Promise ? decided.then(answer) : answer(decided);
      },
    );
  };
}
