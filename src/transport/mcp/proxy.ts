// The MCP proxy's request handler: RFC 9728 metadata, Host/Origin guard and CORS, then per message verify → decide → forward (Streamable HTTP), filtering list answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decider, Decision } from '../../core/decision.js';
import type { AuthzRequest, DpopRequest } from '../../core/request.js';
import type { StreamGuard } from '../../core/stream-guard.js';
import { bearerTokenOf, dpopTokenOf } from '../bearer.js';
import {
  METADATA_HEADERS,
  METADATA_METHODS,
  METADATA_PREFLIGHT_HEADERS,
  metadataRoutes,
} from '../resource-metadata.js';
import { MCP_METHODS, createCors } from './cors.js';
import { createForwarder, type Forwarded } from './forward.js';
import { BodyTooLarge, header, readBody, send, sendError } from './http-io.js';
import {
  JSONRPC_INTERNAL_ERROR,
  JSONRPC_INVALID_REQUEST,
  parseClientMessage,
  type JsonRpcId,
} from './jsonrpc.js';
import type { Ask } from './list-filter.js';
import {
  END_SESSION_ACTION,
  STREAM_ACTION,
  authzRequestOf,
  questionOf,
  type McpRequestFacts,
} from './methods.js';
import type { McpProxyOptions, McpResourceOptions } from './options.js';
import { createOriginGuard, type OriginGuard } from './origin.js';
import { refusalOf } from './refusal.js';
import type { UpstreamTokens } from './upstream-token.js';
import { streamDeadlineMs } from './stream-deadline.js';

/** List methods whose JSON answers are read whole to be filtered (SSE answers are filtered event by event). */
const LIST_METHODS: ReadonlySet<string> = new Set([
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'prompts/list',
]);

export interface McpProxyDeps {
  readonly config: McpProxyOptions;
  /** The pipeline for each resource (by its config), whose verifier accepts only that resource's URI as audience. */
  readonly deciderFor: (resource: McpResourceOptions) => Decider;
  /** Where the upstream's token comes from, per resource; undefined: the upstream gets none. */
  readonly upstreamTokensFor?: (resource: McpResourceOptions) => UpstreamTokens | undefined;
  /** Unexpected failures (bugs, a broken upstream stream); the client gets a fail-closed answer. */
  readonly onError?: (err: unknown) => void;
  /** Ends an event stream once its token is revoked; without it, streams run to their end. */
  readonly streams?: StreamGuard;
}

export interface McpProxy {
  /** Answers one HTTP request; never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** How many MCP sessions the proxy remembers an owner for (bounded; freed when a session ends). */
  sessionCount(): number;
}

/** A decision for each item of a list answer, as the caller of the listing message. */
function askerFor(decider: Decider, facts: McpRequestFacts): Ask {
  return (question) => {
    const decision = decider.decide(authzRequestOf(question, facts, true));
    return decision instanceof Promise
      ? decision.then(
          (d) => d.allow,
          () => false,
        )
      : decision.allow;
  };
}

/** The URL a DPoP proof must name (`htu`), from the resource URI: scheme, authority and path. */
type ProofTarget = Omit<DpopRequest, 'method'>;

function proofTargetOf(resource: McpResourceOptions): ProofTarget {
  const uri = new URL(resource.uri);
  return { scheme: uri.protocol.slice(0, -1), authority: uri.host, path: uri.pathname };
}

/**
 * What the adapter knows of a request besides its message: token, DPoP evidence, session, protocol
 * version, peer. A proof must be for the resource URI the client uses (its canonical URI, whatever
 * path a gateway in front rewrites it to) and this request's method.
 */
function factsOf(
  req: IncomingMessage,
  resource: McpResourceOptions,
  target: ProofTarget,
): McpRequestFacts {
  const sessionId = header(req, 'mcp-session-id');
  const protocolVersion = header(req, 'mcp-protocol-version');
  const requestId = header(req, 'x-request-id');
  const peer = req.socket.remoteAddress;
  const authorization = header(req, 'authorization');
  const bearer = bearerTokenOf(authorization);
  const dpopToken = bearer === undefined ? dpopTokenOf(authorization) : undefined;
  return {
    token: bearer ?? dpopToken,
    dpop: {
      scheme: dpopToken !== undefined ? 'dpop' : 'bearer',
      proof: header(req, 'dpop'),
      request: { method: req.method ?? 'GET', ...target },
    },
    resourceUri: resource.uri,
    ...(sessionId !== undefined ? { sessionId } : {}),
    ...(protocolVersion !== undefined ? { protocolVersion } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
    ...(peer !== undefined ? { peer: `${peer}:${req.socket.remotePort ?? 0}` } : {}),
  };
}

/** How the forwarder obtains the upstream's token for this request, when one is configured. */
function upstreamTokenOf(
  deps: McpProxyDeps,
  resource: McpResourceOptions,
  facts: McpRequestFacts,
  id: JsonRpcId | null,
  isRequest: boolean,
): Pick<Forwarded, 'upstreamToken'> {
  const tokens = deps.upstreamTokensFor?.(resource);
  if (tokens === undefined) return {};
  return { upstreamToken: () => tokens.obtain(facts, resource, id, isRequest) };
}

/** An RFC 9728 document: public, so any page may read it (no Origin check; Host is still checked). */
function serveMetadata(
  req: IncomingMessage,
  res: ServerResponse,
  document: object,
  guard: OriginGuard,
) {
  const refused = guard.refuse(header(req, 'host'), undefined);
  if (refused !== undefined) {
    sendError(res, 403, null, JSONRPC_INVALID_REQUEST, refused);
    return;
  }
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      send(res, 200, { ...METADATA_HEADERS }, JSON.stringify(document));
      return;
    case 'OPTIONS':
      res.writeHead(204, { ...METADATA_PREFLIGHT_HEADERS });
      res.end();
      return;
    default:
      send(
        res,
        405,
        { allow: METADATA_METHODS, 'content-type': 'text/plain' },
        'method not allowed',
      );
  }
}

/** How the forwarder watches the token of an allowed request for revocation, when a guard is given. */
function revocationWatchOf(
  deps: McpProxyDeps,
  request: AuthzRequest,
  decision: Decision,
): Pick<Forwarded, 'watchRevocation'> {
  const streams = deps.streams;
  if (streams === undefined) return {};
  return { watchRevocation: (onRevoked) => streams.watch(request, decision, onRevoked) };
}

export function createMcpProxy(deps: McpProxyDeps): McpProxy {
  const { config } = deps;
  const metadata = metadataRoutes(config.resources);
  const byPath = new Map(config.resources.map((r) => [r.path, r]));
  const proofTargets = new Map(config.resources.map((r) => [r, proofTargetOf(r)]));
  const factsFor = (req: IncomingMessage, resource: McpResourceOptions) =>
    factsOf(req, resource, proofTargets.get(resource) ?? proofTargetOf(resource));
  const guard = createOriginGuard(config);
  const cors = createCors(guard.allowsOrigin);
  const forwarder = createForwarder(config);

  async function handlePost(
    req: IncomingMessage,
    res: ServerResponse,
    resource: McpResourceOptions,
  ) {
    let text: string;
    try {
      text = await readBody(req, config.bodyLimitBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        sendError(
          res,
          413,
          null,
          JSONRPC_INVALID_REQUEST,
          `the message exceeds ${config.bodyLimitBytes} bytes`,
        );
        return;
      }
      throw err;
    }
    const message = parseClientMessage(text);
    if (message.kind === 'invalid') {
      sendError(res, 400, message.id, message.code, message.message);
      return;
    }
    const id = message.kind === 'notification' ? null : message.id;
    const question = questionOf(message);
    if ('code' in question) {
      sendError(res, 400, id, question.code, question.message);
      return;
    }
    const decider = deps.deciderFor(resource);
    const facts = factsFor(req, resource);
    const asked = authzRequestOf(question, facts);
    const decision = await decider.decide(asked);
    if (!decision.allow) {
      const refusal = refusalOf(
        decision,
        resource,
        id,
        message.kind === 'request',
        facts.dpop?.scheme,
      );
      send(res, refusal.status, { ...refusal.headers }, refusal.body);
      return;
    }
    const listMethod = message.kind === 'request' && LIST_METHODS.has(message.method);
    await forwarder.forward(req, res, {
      decision,
      ask: askerFor(decider, facts),
      body: JSON.stringify(message.doc),
      listMethod,
      id,
      ...upstreamTokenOf(deps, resource, facts, id, message.kind === 'request'),
      ...revocationWatchOf(deps, asked, decision),
    });
  }

  /** GET (the stream of server messages) and DELETE (end the session): decided, then forwarded. */
  async function handleBodiless(
    req: IncomingMessage,
    res: ServerResponse,
    resource: McpResourceOptions,
    action: string,
  ) {
    const decider = deps.deciderFor(resource);
    const facts = factsFor(req, resource);
    const asked = authzRequestOf({ action }, facts);
    const decision = await decider.decide(asked);
    if (!decision.allow) {
      const refusal = refusalOf(decision, resource, null, false, facts.dpop?.scheme);
      send(res, refusal.status, { ...refusal.headers }, refusal.body);
      return;
    }
    const deadline =
      action === STREAM_ACTION ? streamDeadlineMs(facts.token, Date.now()) : undefined;
    await forwarder.forward(req, res, {
      decision,
      ask: askerFor(decider, facts),
      listMethod: false,
      id: null,
      ...upstreamTokenOf(deps, resource, facts, null, false),
      ...revocationWatchOf(deps, asked, decision),
      // The GET stream answers no decided request and may last for ever: not past the token.
      ...(deadline !== undefined ? { streamDeadlineMs: deadline } : {}),
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const document = metadata.get(path);
    if (document !== undefined) {
      serveMetadata(req, res, document, guard);
      return;
    }
    const origin = header(req, 'origin');
    const refused = guard.refuse(header(req, 'host'), origin);
    // A refused request gets Vary only, never CORS headers: its page cannot read the 403.
    cors.decorate(res, refused === undefined ? origin : undefined);
    if (refused !== undefined) {
      sendError(res, 403, null, JSONRPC_INVALID_REQUEST, refused);
      return;
    }
    const resource = byPath.get(path);
    if (resource === undefined) {
      send(res, 404, { 'content-type': 'text/plain' }, 'not found');
      return;
    }
    switch (req.method) {
      case 'POST':
        return handlePost(req, res, resource);
      case 'GET':
        return handleBodiless(req, res, resource, STREAM_ACTION);
      case 'DELETE':
        return handleBodiless(req, res, resource, END_SESSION_ACTION);
      case 'OPTIONS':
        // Browsers send a preflight without a token: answered here, never decided nor forwarded.
        cors.answerOptions(req, res);
        return;
      default:
        send(res, 405, { allow: MCP_METHODS, 'content-type': 'text/plain' }, 'method not allowed');
    }
  }

  return {
    sessionCount: () => forwarder.sessionCount(),
    handle(req, res) {
      route(req, res).catch((err: unknown) => {
        // A client that went away mid-answer is no failure of the proxy's.
        const clientGone = res.destroyed && !res.writableFinished && req.socket.destroyed;
        if (!clientGone) deps.onError?.(err);
        // Fail closed: whatever was not sent is not sent; a started stream is cut.
        sendError(res, 500, null, JSONRPC_INTERNAL_ERROR, 'the proxy failed to handle the request');
      });
    },
  };
}
