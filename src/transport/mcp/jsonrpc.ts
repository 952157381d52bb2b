// JSON-RPC 2.0 messages as an MCP client sends them: strict parsing into requests, notifications and responses, and error answers.
/** JSON-RPC 2.0 §5.1 codes, plus the one MCP-facing code mandate uses for a denial. */
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
export const JSONRPC_METHOD_NOT_FOUND = -32601;
export const JSONRPC_INVALID_PARAMS = -32602;
export const JSONRPC_INTERNAL_ERROR = -32603;
/** Implementation-defined server error range (-32000..-32099): the policy refused the call. */
export const JSONRPC_FORBIDDEN = -32003;

export type JsonRpcId = string | number;

/**
 * One parsed message. `doc` is what was parsed: the proxy forwards its serialisation, never the
 * bytes received, so the upstream reads exactly what was decided (a duplicate key read one way
 * here and the other way there cannot slip past the policy).
 */
export type ClientMessage = { readonly doc: Readonly<Record<string, unknown>> } & (
  | {
      readonly kind: 'request';
      readonly id: JsonRpcId;
      readonly method: string;
      readonly params: Readonly<Record<string, unknown>>;
    }
  | {
      readonly kind: 'notification';
      readonly method: string;
      readonly params: Readonly<Record<string, unknown>>;
    }
  /** The client's answer to a request the server sent it (sampling, elicitation, roots). */
  | { readonly kind: 'response'; readonly id: JsonRpcId }
);

export interface JsonRpcFailure {
  readonly kind: 'invalid';
  readonly code: number;
  readonly message: string;
  /** The id when one could be read, so the client can match the error to its request. */
  readonly id: JsonRpcId | null;
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idOf(value: unknown): JsonRpcId | undefined {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
    ? value
    : undefined;
}

function invalid(code: number, message: string, id: JsonRpcId | null = null): JsonRpcFailure {
  return { kind: 'invalid', code, message, id };
}

/** Reads one message from a POST body's text; anything else is a failure naming what is wrong. */
export function parseClientMessage(text: string): ClientMessage | JsonRpcFailure {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return invalid(JSONRPC_PARSE_ERROR, 'the body is not valid JSON');
  }
  // MCP 2025-06-18 removed JSON-RPC batching; a batch would let one decision cover many calls.
  if (Array.isArray(doc)) {
    return invalid(JSONRPC_INVALID_REQUEST, 'JSON-RPC batches are not supported; send one message');
  }
  if (!isObject(doc)) return invalid(JSONRPC_INVALID_REQUEST, 'a message must be a JSON object');
  const id = idOf(doc['id']);
  const failedId = id ?? null;
  if (doc['jsonrpc'] !== '2.0') {
    return invalid(JSONRPC_INVALID_REQUEST, 'jsonrpc must be "2.0"', failedId);
  }
  const method = doc['method'];
  if (method === undefined) {
    if (id === undefined || !('result' in doc || 'error' in doc)) {
      return invalid(
        JSONRPC_INVALID_REQUEST,
        'a message needs a method, or an id and a result or error',
      );
    }
    return { kind: 'response', id, doc };
  }
  if (typeof method !== 'string' || method.length === 0) {
    return invalid(JSONRPC_INVALID_REQUEST, 'method must be a non-empty string', failedId);
  }
  const params = doc['params'];
  if (params !== undefined && !isObject(params)) {
    return invalid(JSONRPC_INVALID_PARAMS, 'params must be an object', failedId);
  }
  if ('id' in doc) {
    // MCP: a request id is a string or a number, never null.
    if (id === undefined)
      return invalid(JSONRPC_INVALID_REQUEST, 'id must be a string or a number');
    return { kind: 'request', id, method, params: params ?? EMPTY, doc };
  }
  return { kind: 'notification', method, params: params ?? EMPTY, doc };
}

/** A JSON-RPC error response body. */
export function errorBody(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: Readonly<Record<string, unknown>>,
): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  });
}
