// Streams one allowed request to the plain HTTP upstream and its answer back, both bodies piped (never buffered); 502/504 when the upstream fails.
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { clientResponseHeaders } from './headers.js';

/** The upstream went silent for longer than allowed. */
class UpstreamTimeout extends Error {}

export interface UpstreamTarget {
  /** The upstream base URL (http or https, no query); its path prefixes every forwarded path. */
  readonly upstream: string;
  /** Longest silence (connecting, before answering, mid-stream), milliseconds. */
  readonly timeoutMs: number;
}

export interface HttpForwarder {
  /**
   * Sends `req` (method, `pathAndQuery` as received, `headers`, body streamed) upstream and pipes
   * the answer to `res`. Never rejects: an upstream that cannot be reached gets the client a 502,
   * one that stays silent a 504; one that fails mid-answer cuts the client's answer.
   * `watchRevocation`, when given, watches the decided token while the answer streams: once a
   * revocation matching it is enforced, the answer is cut (as a failure: a body cut short must not
   * look complete) and the upstream exchange closed.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    pathAndQuery: string,
    headers: OutgoingHttpHeaders,
    watchRevocation?: (onRevoked: () => void) => () => void,
  ): Promise<void>;
  /** Closes idle upstream connections. */
  close(): void;
}

function gatewayError(res: ServerResponse, status: 502 | 504, error: string, message: string) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error, message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

export function createHttpForwarder(target: UpstreamTarget): HttpForwarder {
  const base = new URL(target.upstream);
  const secure = base.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  // Connections to the one upstream are reused; the pool is the forwarder's, closed with it.
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const prefix = base.pathname === '/' ? '' : base.pathname.replace(/\/+$/, '');

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    pathAndQuery: string,
    headers: OutgoingHttpHeaders,
    watchRevocation?: (onRevoked: () => void) => () => void,
  ): Promise<void> {
    // The path goes as received (the route table decided on exactly this spelling); never through
    // URL parsing, which would resolve or re-encode it into something else.
    const upstreamReq = send({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port,
      path: prefix + pathAndQuery,
      method: req.method ?? 'GET',
      headers: { ...headers, host: base.host },
      agent,
      timeout: target.timeoutMs,
    });
    upstreamReq.on('timeout', () => upstreamReq.destroy(new UpstreamTimeout()));
    // The client went away: so does the upstream exchange (its request and any answer streaming).
    res.once('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      upstreamReq.once('response', resolve);
      // Kept for the exchange's life: a later failure (silence mid-stream) must not go unheard.
      upstreamReq.on('error', reject);
    });
    // Piped, not awaited: the upstream may answer before it has read the whole body.
    req.pipe(upstreamReq);
    req.once('error', () => upstreamReq.destroy());
    let upstreamRes: IncomingMessage;
    try {
      upstreamRes = await answer;
    } catch (err) {
      req.unpipe(upstreamReq);
      if (err instanceof UpstreamTimeout) {
        gatewayError(res, 504, 'upstream_timeout', 'the upstream did not answer in time');
      } else {
        gatewayError(res, 502, 'upstream_unreachable', 'the upstream could not be reached');
      }
      return;
    }
    res.writeHead(upstreamRes.statusCode ?? 502, clientResponseHeaders(upstreamRes.headers));
    const unwatch = watchRevocation?.(() => res.destroy());
    try {
      await pipeline(upstreamRes, res);
    } catch {
      // The upstream failed mid-answer, went silent, the client left or the token was revoked:
      // the answer is cut (pipeline destroyed both sides), never completed with something else.
      upstreamReq.destroy();
    } finally {
      unwatch?.();
    }
  }

  return { forward, close: () => agent.destroy() };
}
