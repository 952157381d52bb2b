// Envoy's http_service ext_authz under a path prefix: the original method, path and headers in, 200 or a denial out.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { EnvoyAuthorizer } from './authz.js';
import type { HeaderPair } from './response.js';
import { httpModeAttributes } from './http-attributes.js';
import { latin1Wire } from './header-values.js';
import type { EnvoyCall } from './input.js';
import { clientErrorOf } from '../client-errors.js';

export interface EnvoyHttpOptions {
  /** Path prefix Envoy's `http_service.path_prefix` points at, e.g. `/envoy/authz`. */
  readonly prefix: string;
  /** Largest body accepted, bytes; larger requests get 413 (a clean denial Envoy passes on). */
  readonly bodyLimitBytes: number;
  /**
   * `envoy.on_error`: only `error_response` may answer a 5xx (Envoy's http_service counts every
   * 5xx as an authorization-service failure, which `failure_mode_allow` lets through). Default `deny`.
   */
  readonly onError?: 'deny' | 'error_response';
  /** Receives unexpected errors of the route (logged by the caller). */
  readonly onFailure?: (err: unknown) => void;
}

/**
 * The status a denial goes out with. Envoy's http_service reads exactly 200 as an allow and any
 * 5xx as its own failure (let through under `failure_mode_allow`); a denial keeps a 3xx or 4xx
 * status (a policy's redirect, 401, 413) and is otherwise a 403, whatever mandate or a policy said.
 */
export function httpDenialStatus(status: number): number {
  return Number.isInteger(status) && status >= 300 && status <= 499 ? status : 403;
}

/** Headers of the authorization request that describe Envoy's call to us, not the client's request. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

/**
 * The request's headers with repeated ones joined by `,`, as Envoy's gRPC attributes carry them.
 * Read from the raw list: Node keeps only the first of some repeated headers (`authorization`
 * among them), which would hide a second credential the upstream might read.
 */
function headersOf(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_HEADERS.has(name)) continue;
    const value = raw[i + 1] as string;
    const seen = out[name];
    out[name] = seen === undefined ? value : `${seen},${value}`;
  }
  return out;
}

function setHeaders(reply: FastifyReply, pairs: readonly HeaderPair[]): void {
  const grouped = new Map<string, string[]>();
  for (const h of pairs) {
    const list = grouped.get(h.name);
    if (list === undefined || h.overwrite) grouped.set(h.name, [h.value]);
    else list.push(h.value);
  }
  for (const [name, values] of grouped) {
    const wire = values.map(latin1Wire);
    reply.header(name, wire.length === 1 ? wire[0] : wire);
  }
}

/**
 * Registers `ALL <prefix>` and `ALL <prefix>/*` in their own encapsulated scope: every body is taken
 * raw (a Buffer, whatever its content type), under this route's own body limit.
 */
export function registerEnvoyHttpRoutes(
  app: FastifyInstance,
  authorizer: EnvoyAuthorizer,
  options: EnvoyHttpOptions,
): void {
  const { prefix } = options;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes },
      (_req, body, done) => done(null, body),
    );
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const path = req.url.length > prefix.length ? req.url.slice(prefix.length) : '/';
      const headers = headersOf(req);
      const raw = req.body;
      const call: EnvoyCall = {
        method: req.method,
        path: path.startsWith('/') ? path : `/${path}`,
        headers,
        host: headers['x-forwarded-host'] ?? headers['host'] ?? '',
        // Envoy sets x-forwarded-proto; without it, assume the client spoke TLS to the proxy.
        scheme: headers['x-forwarded-proto'] ?? 'https',
        requestId: headers['x-request-id'] ?? '',
        body: Buffer.isBuffer(raw) && raw.length > 0 ? raw.toString('utf8') : undefined,
        partialBody: headers['x-envoy-auth-partial-body'] === 'true',
        bodyNotUtf8: Buffer.isBuffer(raw) && !isUtf8(raw),
        attributes: httpModeAttributes({
          method: req.method,
          path: path.startsWith('/') ? path : `/${path}`,
          headers,
          body: Buffer.isBuffer(raw) ? raw : undefined,
          receivedAtMs: Date.now(),
        }),
        transport: 'envoy_http',
      };
      const verdict = await authorizer.authorize(call);
      switch (verdict.kind) {
        case 'allow':
          setHeaders(reply, verdict.upstreamHeaders);
          if (verdict.removeHeaders.length > 0) {
            reply.header('x-envoy-auth-headers-to-remove', verdict.removeHeaders.join(', '));
          }
          return reply.code(200).send();
        case 'deny':
          setHeaders(reply, verdict.headers);
          return reply.code(httpDenialStatus(verdict.status)).send(verdict.body);
        case 'error':
          // A 5xx is an authorization-service failure to Envoy: failure_mode_allow and status_on_error apply.
          return reply
            .code(503)
            .header('content-type', 'application/json')
            .send(JSON.stringify({ error: 'unavailable', message: verdict.message }));
      }
    };
    // Anything thrown here (a bug, a header Node refuses) would be the app's 500, which Envoy
    // counts as a failure of the authorization service: it is a 403 denial unless on_error says
    // error_response. Client errors (a body over the limit) keep their 4xx.
    scope.setErrorHandler((err, _req, reply) => {
      const clientError = clientErrorOf(err);
      if (clientError) return reply.code(clientError.statusCode).send(clientError.body);
      options.onFailure?.(err);
      const decisionId = randomUUID();
      const failure = options.onError === 'error_response';
      return reply
        .code(failure ? 503 : 403)
        .header('content-type', 'application/json')
        .send(
          JSON.stringify({
            decision_id: decisionId,
            reasons: [{ code: 'internal_error', message: 'authorization failed unexpectedly' }],
          }),
        );
    });
    scope.all(prefix, handler);
    scope.all(`${prefix}/*`, handler);
  });
}
