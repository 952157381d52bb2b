// CORS for browser-based MCP clients: preflights answered and answers made readable, only for the origins the Origin guard accepts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { header } from './http-io.js';

/** The Streamable HTTP transport's methods, and OPTIONS, which the proxy answers itself. */
export const MCP_METHODS = 'GET, POST, DELETE, OPTIONS';

/**
 * Request headers a browser client may send: the token and its DPoP proof, the transport's own,
 * and `x-request-id`, which the proxy records. A fixed list, never the preflight's echoed back.
 */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'dpop',
  'x-request-id',
].join(', ');

/**
 * Response headers a browser client must read beyond the CORS-safelisted ones: the session it was
 * given, the negotiated version, the RFC 9728 challenge that starts OAuth discovery from a 401 or
 * step-up from a 403, and when to come back after a 503.
 */
export const CORS_EXPOSED_HEADERS = [
  'mcp-session-id',
  'mcp-protocol-version',
  'www-authenticate',
  'retry-after',
].join(', ');

/**
 * How long a browser may reuse a preflight's answer, seconds. The allowlist changes only with a
 * restart; Chromium caps the value at 7200 and Firefox at 86400.
 */
export const CORS_MAX_AGE_SECONDS = 3600;

export interface Cors {
  /**
   * Marks an answer on a resource path: always `Vary: Origin` (the CORS headers depend on it), and
   * for an allowed Origin the headers that let the page read the answer, whatever its status.
   * Set on the response before anything is sent, so every answer (forwarded, refused, failed) has them.
   */
  decorate(res: ServerResponse, origin: string | undefined): void;
  /**
   * Answers an OPTIONS request on a resource path, which never reaches the upstream: 204 with
   * `Allow`, and for a preflight from an allowed origin the methods, headers and max-age it may use.
   */
  answerOptions(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * CORS for the origins `allowsOrigin` accepts (the Origin guard's list). No credentials mode: the
 * token travels in the Authorization header, never in a cookie, so `Access-Control-Allow-Credentials`
 * is never sent and a page fetching with `credentials: 'include'` is refused by its browser.
 */
export function createCors(allowsOrigin: (origin: string) => boolean): Cors {
  const allowed = (origin: string | undefined): origin is string =>
    origin !== undefined && allowsOrigin(origin);
  return {
    decorate(res, origin) {
      res.setHeader('vary', 'Origin');
      if (!allowed(origin)) return;
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS);
    },
    answerOptions(req, res) {
      const preflight =
        allowed(header(req, 'origin')) &&
        header(req, 'access-control-request-method') !== undefined;
      // RFC 9110 §8.6: no Content-Length on a 204.
      res.writeHead(
        204,
        preflight
          ? {
              allow: MCP_METHODS,
              'access-control-allow-methods': MCP_METHODS,
              'access-control-allow-headers': CORS_ALLOWED_HEADERS,
              'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
            }
          : { allow: MCP_METHODS },
      );
      res.end();
    },
  };
}
