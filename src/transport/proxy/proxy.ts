// The plain HTTP proxy's request handler: method + path → route → decide (token, tenant, policy, audit) → forward or deny.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decider, Decision } from '../../core/decision.js';
import type { AuthzRequest } from '../../core/request.js';
import type { StreamGuard } from '../../core/stream-guard.js';
import type { DecideTerms } from '../../core/terms.js';
import { bearerTokenOf } from '../bearer.js';
import { presentDenial } from '../denial-presentation.js';
import type { RouteTable } from '../route-table.js';
import type { HttpForwarder } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';

export interface HttpProxyDeps {
  /** The pipeline (the issuers' own audiences, as `mandate serve` verifies). */
  readonly decider: Decider;
  /** The configured routes (`proxy.routes`), matched as the Envoy adapters match `envoy.routes`. */
  readonly routes: RouteTable;
  readonly forwarder: HttpForwarder;
  /** Unexpected failures (bugs); the client gets a fail-closed answer. */
  readonly onError?: (err: unknown) => void;
  /** Cuts an answer still streaming once its token is revoked; without it, answers run to their end. */
  readonly streams?: StreamGuard;
}

export interface HttpProxy {
  /** Answers one HTTP request; never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void;
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The request to decide, and the adapter's own refusal when no route maps it: a path the route
 * table will not read (dot segments, `//`, encoded slashes, …) maps to nothing, so it is refused
 * with the rest, after the token is checked (a bad token is the answer first, as in Envoy mode).
 */
function questionOf(
  req: IncomingMessage,
  routes: RouteTable,
): { request: AuthzRequest; terms: DecideTerms } {
  const method = (req.method ?? 'GET').toUpperCase();
  const target = req.url ?? '/';
  const path = target.split(/[?#]/, 1)[0] ?? target;
  const match = routes.match(method, target);
  const host = one(req.headers.host);
  const requestId = one(req.headers['x-request-id']);
  const peer = req.socket.remoteAddress;
  const resource = match ? match.resource : { type: 'http_path', id: path };
  const request: AuthzRequest = {
    token: bearerTokenOf(one(req.headers.authorization)),
    action: match?.action ?? `http.${method.toLowerCase()}`,
    ...(resource !== undefined ? { resource } : {}),
    ...(match?.tenant !== undefined && match.tenant !== '' ? { tenant: match.tenant } : {}),
    context: {
      http: { method, path, ...(host !== undefined ? { host } : {}) },
      ...(match ? { route: match.template, params: match.params } : {}),
    },
    transport: 'http_proxy',
    ...(requestId !== undefined ? { requestId } : {}),
    ...(peer !== undefined ? { peer: `${peer}:${req.socket.remotePort ?? 0}` } : {}),
  };
  const terms: DecideTerms = match
    ? {}
    : { refusal: { code: 'route_unmapped', message: `no route maps ${method} ${path}` } };
  return { request, terms };
}

/** A denial as every HTTP client of mandate gets it: the status of its first reason, a challenge on 401 and scope denials, the reasons as JSON. */
function sendDenial(res: ServerResponse, decision: Decision, action: string): void {
  const first = decision.reasons[0] ?? { code: 'internal_error', message: 'denied' };
  const presentation = presentDenial(first, action);
  const body = JSON.stringify({
    decision_id: decision.decisionId,
    reasons: decision.reasons.map((r) => ({ code: r.code, message: r.message })),
  });
  res.writeHead(presentation.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-mandate-decision-id': decision.decisionId,
    ...(presentation.wwwAuthenticate !== undefined
      ? { 'www-authenticate': presentation.wwwAuthenticate }
      : {}),
    ...(presentation.status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}

export function createHttpProxy(deps: HttpProxyDeps): HttpProxy {
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { request, terms } = questionOf(req, deps.routes);
    const decision = await deps.decider.decideWith(request, terms);
    if (!decision.allow) {
      sendDenial(res, decision, request.action);
      return;
    }
    const headers = upstreamRequestHeaders(req.headers, decision, {
      peer: req.socket.remoteAddress,
      host: one(req.headers.host),
    });
    const streams = deps.streams;
    await deps.forwarder.forward(
      req,
      res,
      req.url ?? '/',
      headers,
      streams && ((onRevoked) => streams.watch(request, decision, onRevoked)),
    );
  }

  return {
    handle(req, res) {
      route(req, res).catch((err: unknown) => {
        deps.onError?.(err);
        // Fail closed: nothing is forwarded; a started answer is cut.
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const body = JSON.stringify({ error: 'internal_error', message: 'the proxy failed' });
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(body);
      });
    },
  };
}
