// Forwards one allowed request to the upstream MCP server and streams its answer back, filtering list answers and guarding session ownership.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Decision } from '../../core/decision.js';
import { createCuttableSink } from '../cuttable-sink.js';
import { BodyTooLarge, header, readBody, send, sendError } from './http-io.js';
import { JSONRPC_INTERNAL_ERROR, JSONRPC_INVALID_REQUEST, type JsonRpcId } from './jsonrpc.js';
import { filterListAnswer, isListAnswer, type Ask } from './list-filter.js';
import type { McpProxyOptions } from './options.js';
import { relayAnswer } from './relay.js';
import { createSessionOwners } from './session-owners.js';
import { createSseFilter } from './sse-filter.js';
import { FORWARDED_RESPONSE_HEADERS, callUpstream, upstreamHeadersOf } from './upstream.js';
import type { UpstreamTokenOutcome } from './upstream-token.js';

/** What one allowed request is forwarded with. */
export interface Forwarded {
  readonly decision: Decision;
  /** Decides each item of a list answer as the caller. */
  readonly ask: Ask;
  /** The message to send (the parsed one, serialised again); undefined for GET and DELETE. */
  readonly body?: string;
  /** The request is a list method, so a JSON answer is read whole to be filtered. */
  readonly listMethod: boolean;
  readonly id: JsonRpcId | null;
  /**
   * Obtains the token the upstream receives (never the client's), once the request is otherwise
   * ready to go; a failure is answered instead and nothing is forwarded.
   */
  readonly upstreamToken?: () => Promise<UpstreamTokenOutcome>;
  /** An event-stream answer is cut after this many milliseconds (when the caller's token expires). */
  readonly streamDeadlineMs?: number;
  /**
   * Watches the decided token for revocation while an event-stream answer is relayed: calls
   * `onRevoked` once one matching it is enforced (at once when one already is); returns the
   * function that stops watching.
   */
  readonly watchRevocation?: (onRevoked: () => void) => () => void;
}

export interface Forwarder {
  forward(req: IncomingMessage, res: ServerResponse, what: Forwarded): Promise<void>;
  /** How many sessions the forwarder remembers an owner for. */
  sessionCount(): number;
}

export function createForwarder(config: McpProxyOptions): Forwarder {
  const upstream = config.upstream !== undefined ? new URL(config.upstream) : undefined;
  const sessions = createSessionOwners();

  /** Forwards an allowed request and streams the answer back, filtering list answers. */
  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    {
      decision,
      ask,
      body,
      listMethod,
      id,
      upstreamToken,
      streamDeadlineMs,
      watchRevocation,
    }: Forwarded,
  ): Promise<void> {
    if (upstream === undefined) {
      sendError(res, 502, id, JSONRPC_INTERNAL_ERROR, 'no upstream MCP server is configured');
      return;
    }
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined && !sessions.mayUse(sessionId, decision.subject)) {
      // As the spec has a server answer an unknown session: the caller learns nothing of its owner.
      sendError(res, 404, id, JSONRPC_INVALID_REQUEST, 'session not found');
      return;
    }
    let token: string | undefined;
    if (upstreamToken !== undefined) {
      const outcome = await upstreamToken();
      if (!outcome.ok) {
        const { status, headers, body: refusal } = outcome.refusal;
        send(res, status, { ...headers }, refusal);
        return;
      }
      token = outcome.token;
    }
    // A client that went away while its message was decided (or its upstream token fetched) has
    // nobody to give the answer to: a tool call it may have given up on is not made for it.
    if (res.destroyed || req.socket.destroyed) return;
    const bodyBytes = body === undefined ? undefined : Buffer.byteLength(body);
    const call = callUpstream(
      upstream,
      req.method ?? 'GET',
      upstreamHeadersOf(
        req.headers,
        decision,
        {
          sendIdentityHeaders: config.sendIdentityHeaders,
          ...(token !== undefined ? { token } : {}),
        },
        bodyBytes,
      ),
      config.upstreamTimeoutMs,
    );
    // The client went away (or cancelled by closing its stream): so does the upstream request.
    res.once('close', () => call.request.destroy());
    call.request.end(body);
    let answer: IncomingMessage;
    try {
      answer = await call.response;
    } catch {
      sendError(
        res,
        502,
        id,
        JSONRPC_INTERNAL_ERROR,
        'the upstream MCP server could not be reached',
      );
      return;
    }
    const issued = answer.headers['mcp-session-id'];
    if (typeof issued === 'string') sessions.claim(issued, decision.subject);
    const status = answer.statusCode ?? 502;
    // A session ends with a DELETE the upstream accepts, or when the upstream no longer knows it
    // (404, as the spec has a server answer a terminated session): its owner entry goes with it.
    if (sessionId !== undefined && ((req.method === 'DELETE' && status < 300) || status === 404)) {
      sessions.forget(sessionId);
    }
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = answer.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const type = (answer.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('text/event-stream')) {
      delete headers['content-length'];
      res.writeHead(status, headers);
      res.flushHeaders();
      const filter = createSseFilter({
        ask,
        maxEventBytes: config.listLimitBytes,
        ...(listMethod && id !== null ? { listRequestId: id } : {}),
      });
      // A revoked token gets nothing more: the stream ends cleanly (no event is cut in half, so
      // the client reconnects, as after any end of a stream, and is refused with `revoked`).
      const relay = createCuttableSink(res);
      const unwatch = watchRevocation?.(() => relay.cut(answer));
      if (streamDeadlineMs !== undefined) {
        // At the token's exp the stream ends the same clean way: the client comes back with a
        // fresh token (and Last-Event-ID) to go on listening.
        const expire = setTimeout(() => relay.cut(answer), streamDeadlineMs);
        res.once('close', () => clearTimeout(expire));
      }
      try {
        await pipeline(answer, filter, relay.sink);
      } catch (err) {
        if (!relay.isCut()) throw err;
      } finally {
        unwatch?.();
      }
      return;
    }
    if (listMethod && type.startsWith('application/json')) {
      let text: string;
      try {
        text = await readBody(answer, config.listLimitBytes);
      } catch (err) {
        if (!(err instanceof BodyTooLarge)) throw err;
        sendError(
          res,
          502,
          id,
          JSONRPC_INTERNAL_ERROR,
          'the upstream list answer is too large to filter',
        );
        return;
      }
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        sendError(res, 502, id, JSONRPC_INTERNAL_ERROR, 'the upstream answered with invalid JSON');
        return;
      }
      const out = isListAnswer(message) ? await filterListAnswer(message, ask) : message;
      delete headers['content-length'];
      send(res, status, headers, JSON.stringify(out));
      return;
    }
    res.writeHead(status, headers);
    await relayAnswer(answer, res);
  }

  return { forward, sessionCount: () => sessions.size() };
}
