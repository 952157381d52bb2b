// MCP through Envoy: a call on an MCP resource's path is read as the proxy reads a message (one JSON-RPC message → mcp.<method> on its tool, prompt or resource) and refused as the proxy refuses one.
import type { Decision } from '../../core/decision.js';
import { classifyReason, type Reason } from '../../core/reasons.js';
import type { AuthzRequest } from '../../core/request.js';
import {
  JSONRPC_INVALID_REQUEST,
  JSONRPC_PARSE_ERROR,
  errorBody,
  parseClientMessage,
  type JsonRpcId,
} from '../mcp/jsonrpc.js';
import {
  END_SESSION_ACTION,
  STREAM_ACTION,
  authzRequestOf,
  questionOf,
  type McpQuestion,
} from '../mcp/methods.js';
import type { McpResourceOptions } from '../mcp/options.js';
import { refusalOf } from '../mcp/refusal.js';
import type { EnvoyCall } from './input.js';
import { jsonAmbiguityOf } from './json-unambiguous.js';
import { denyVerdict, type EnvoyVerdict, type HeaderPair } from './response.js';

/** The MCP resources Envoy guards (the `mcp:` section), found by the path of the original request. */
export interface EnvoyMcpOptions {
  readonly resources: readonly McpResourceOptions[];
  /** Largest message decided, bytes (`mcp.body_limit_bytes`); a larger one is refused with 413. */
  readonly bodyLimitBytes: number;
}

/** The action of a call whose message could not be read: it is refused, never asked of a policy. */
export const UNREADABLE_MESSAGE_ACTION = 'mcp.message';

/** How a denial of a call on an MCP path is answered (see {@link mcpDenialOf}). */
export interface McpAnswer {
  readonly resource: McpResourceOptions;
  /** The JSON-RPC id of the message, when it had one. */
  readonly id: JsonRpcId | null;
  readonly isRequest: boolean;
  /** The adapter's own refusal of the message: the JSON-RPC error code and HTTP status the proxy answers it with. */
  readonly refused?: { readonly code: number; readonly status: number };
}

/** What the adapter makes of a call on an MCP path: the question, how to answer, and its own refusal. */
export interface McpCall {
  readonly question: McpQuestion;
  readonly answer: McpAnswer;
  readonly refusal?: Reason;
}

function refused(
  resource: McpResourceOptions,
  message: string,
  code: number,
  status: number,
  id: JsonRpcId | null = null,
): McpCall {
  return {
    question: { action: UNREADABLE_MESSAGE_ACTION },
    answer: { resource, id, isRequest: id !== null, refused: { code, status } },
    refusal: { code: 'request_invalid', message },
  };
}

/**
 * True when Envoy says it forwarded only part of the body (`x-envoy-auth-partial-body`, set when
 * the body exceeded `max_request_bytes` under `allow_partial_message`), or the request declared
 * more bytes than came.
 */
function cutShort(call: EnvoyCall, body: string): boolean {
  if (call.partialBody) return true;
  const declared = call.headers['content-length'];
  return (
    declared !== undefined &&
    /^\d{1,15}$/.test(declared) &&
    Number(declared) > Buffer.byteLength(body)
  );
}

/**
 * Reads one call on an MCP path as the proxy reads a request: POST carries one JSON-RPC message
 * (parsed by the proxy's own reader, asked by its own question), GET opens the server's stream,
 * DELETE ends a session. Everything the proxy would not forward is refused (`request_invalid`):
 * no body (Envoy without `with_request_body`), a partial or oversized body, one that is not a
 * single JSON-RPC message of a known method or that another parser could read otherwise, another
 * HTTP method.
 */
export function mcpCallOf(
  call: EnvoyCall,
  resource: McpResourceOptions,
  bodyLimitBytes: number,
): McpCall {
  const method = call.method.toUpperCase();
  if (method === 'GET' || method === 'DELETE') {
    return {
      question: { action: method === 'GET' ? STREAM_ACTION : END_SESSION_ACTION },
      answer: { resource, id: null, isRequest: false },
    };
  }
  if (method !== 'POST') {
    return refused(
      resource,
      `${method} is not a method of MCP's Streamable HTTP transport`,
      JSONRPC_INVALID_REQUEST,
      405,
    );
  }
  const body = call.body;
  if (body === undefined || body.length === 0) {
    return refused(
      resource,
      'no message body reached mandate: Envoy must forward it (with_request_body)',
      JSONRPC_INVALID_REQUEST,
      400,
    );
  }
  if (cutShort(call, body)) {
    return refused(
      resource,
      'the message was cut short at Envoy (with_request_body.max_request_bytes): it cannot be decided',
      JSONRPC_INVALID_REQUEST,
      413,
    );
  }
  if (Buffer.byteLength(body) > bodyLimitBytes) {
    return refused(
      resource,
      `the message exceeds ${bodyLimitBytes} bytes`,
      JSONRPC_INVALID_REQUEST,
      413,
    );
  }
  if (call.bodyNotUtf8 === true) {
    // Read with replacement characters, the text is not what the upstream will read.
    return refused(resource, 'the body is not UTF-8', JSONRPC_PARSE_ERROR, 400);
  }
  const message = parseClientMessage(body);
  if (message.kind === 'invalid') {
    return refused(resource, message.message, message.code, 400, message.id);
  }
  const id = message.kind === 'notification' ? null : message.id;
  // The proxy forwards what it parsed, serialised again; behind Envoy the upstream reads the bytes
  // as sent, so they must not mean something else to its parser.
  const ambiguity = jsonAmbiguityOf(body);
  if (ambiguity !== undefined) {
    return refused(resource, ambiguity, JSONRPC_INVALID_REQUEST, 400, id);
  }
  const question = questionOf(message);
  if ('code' in question) {
    return refused(resource, question.message, question.code, 400, id);
  }
  return { question, answer: { resource, id, isRequest: message.kind === 'request' } };
}

/** The request of an MCP call: the proxy's, but for the transport it came through. */
export function mcpAuthzRequestOf(
  call: EnvoyCall,
  mcp: McpCall,
  token: string | undefined,
): AuthzRequest {
  const sessionId = call.headers['mcp-session-id'];
  const protocolVersion = call.headers['mcp-protocol-version'];
  return {
    ...authzRequestOf(mcp.question, {
      token,
      resourceUri: mcp.answer.resource.uri,
      ...(sessionId !== undefined ? { sessionId } : {}),
      ...(protocolVersion !== undefined ? { protocolVersion } : {}),
      ...(call.requestId !== '' ? { requestId: call.requestId } : {}),
    }),
    transport: call.transport,
  };
}

/**
 * The denial of a call on an MCP path, in the proxy's terms: 401 with the RFC 9728 challenge, 403
 * `insufficient_scope` naming the scopes to ask for, the proxy's 400 / 405 / 413 for a message it
 * would not forward, and 403 (not the proxy's 200: Envoy's HTTP service reads 200 as an allow)
 * for a policy refusal, each with a JSON-RPC error body. Undefined for mandate's own failures,
 * which Envoy's `on_error` handling answers.
 */
export function mcpDenialOf(
  decision: Decision,
  answer: McpAnswer,
  decisionIdHeader: string,
): EnvoyVerdict | undefined {
  const first = decision.reasons[0];
  if (first === undefined || classifyReason(first.code) === 'unavailable') return undefined;
  const refusal = refusalOf(decision, answer.resource, answer.id, answer.isRequest);
  let { status, body } = refusal;
  if (answer.refused !== undefined && first.code === 'request_invalid') {
    status = answer.refused.status;
    body = errorBody(answer.id, answer.refused.code, first.message, {
      decision_id: decision.decisionId,
      reasons: decision.reasons.map((r) => ({ code: r.code, message: r.message })),
    });
  } else if (status === 200) {
    status = 403;
  }
  const headers: HeaderPair[] = Object.entries(refusal.headers).map(([name, value]) => ({
    name,
    value,
    overwrite: true,
  }));
  headers.push({ name: decisionIdHeader, value: decision.decisionId, overwrite: true });
  return denyVerdict(decision.decisionId, decision.reasons, { status, headers, body });
}

/**
 * An allow on an MCP path, minus the client's credentials: the MCP authorization spec forbids
 * passing the client's token to the upstream, and the proxy forwards neither it nor cookies, so
 * Envoy removes the token headers, `dpop` and `cookie` from the forwarded request.
 */
export function withoutCredentials(
  verdict: EnvoyVerdict,
  tokenHeaders: readonly string[],
): EnvoyVerdict {
  if (verdict.kind !== 'allow') return verdict;
  const removeHeaders = [...new Set([...verdict.removeHeaders, ...tokenHeaders, 'dpop', 'cookie'])];
  return { ...verdict, removeHeaders };
}
