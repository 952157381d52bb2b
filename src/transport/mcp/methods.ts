// Which MCP methods a client may send, and the AuthzRequest each JSON-RPC message becomes.
import type { AuthzRequest, DpopEvidence, ResourceRef } from '../../core/request.js';
import { MCP_CLIENT_NOTIFICATIONS, MCP_CLIENT_REQUESTS } from '../../lib/mcp-methods.js';
import { JSONRPC_INVALID_PARAMS, type ClientMessage } from './jsonrpc.js';

/** The action of a client's answer to a server request (sampling, elicitation, roots). */
export const RESPONSE_ACTION = 'mcp.response';
/** The action of opening the GET stream of server messages. */
export const STREAM_ACTION = 'mcp.stream';
/** The action of ending a session with DELETE. */
export const END_SESSION_ACTION = 'mcp.session/delete';

/** What the pipeline is asked about a message, besides the token. */
export interface McpQuestion {
  readonly action: string;
  readonly resource?: ResourceRef;
  /** `arguments` of tools/call and prompts/get, `argument` of completion/complete. */
  readonly arguments?: unknown;
  /** The JSON-RPC method, as sent. */
  readonly method?: string;
}

export interface QuestionFailure {
  readonly code: number;
  readonly message: string;
}

function named(params: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = params[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The resource a method acts on, or a failure when its params do not name one. */
function resourceOf(
  method: string,
  params: Readonly<Record<string, unknown>>,
): ResourceRef | undefined | QuestionFailure {
  const need = (key: string, type: string): ResourceRef | QuestionFailure => {
    const id = named(params, key);
    return id === undefined
      ? {
          code: JSONRPC_INVALID_PARAMS,
          message: `${method} needs params.${key} (a non-empty string)`,
        }
      : { type, id };
  };
  switch (method) {
    case 'tools/call':
      return need('name', 'tool');
    case 'prompts/get':
      return need('name', 'prompt');
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return need('uri', 'resource');
    case 'completion/complete': {
      const ref = params['ref'];
      const r = typeof ref === 'object' && ref !== null ? (ref as Record<string, unknown>) : {};
      if (r['type'] === 'ref/prompt') return refNamed(r, 'name', 'prompt', method);
      if (r['type'] === 'ref/resource') return refNamed(r, 'uri', 'resource', method);
      return {
        code: JSONRPC_INVALID_PARAMS,
        message: 'completion/complete needs params.ref of type ref/prompt or ref/resource',
      };
    }
    default:
      return undefined;
  }
}

function refNamed(
  ref: Record<string, unknown>,
  key: string,
  type: string,
  method: string,
): ResourceRef | QuestionFailure {
  const id = named(ref, key);
  return id === undefined
    ? { code: JSONRPC_INVALID_PARAMS, message: `${method} needs params.ref.${key}` }
    : { type, id };
}

function isFailure(value: unknown): value is QuestionFailure {
  return typeof value === 'object' && value !== null && 'code' in value;
}

/** The question a client message asks, or why it cannot be asked (unknown method, bad params). */
export function questionOf(message: ClientMessage): McpQuestion | QuestionFailure {
  if (message.kind === 'response') return { action: RESPONSE_ACTION };
  const known = message.kind === 'request' ? MCP_CLIENT_REQUESTS : MCP_CLIENT_NOTIFICATIONS;
  if (!known.has(message.method)) {
    return {
      code: -32601,
      message: `method ${message.method} is not an MCP ${message.kind === 'request' ? 'request' : 'notification'} this server accepts`,
    };
  }
  const resource = resourceOf(message.method, message.params);
  if (isFailure(resource)) return resource;
  const args =
    message.method === 'completion/complete'
      ? message.params['argument']
      : message.params['arguments'];
  return {
    action: `mcp.${message.method}`,
    method: message.method,
    ...(resource !== undefined ? { resource } : {}),
    ...(args !== undefined ? { arguments: args } : {}),
  };
}

/** Per-request facts the adapter knows (the session and the resource the message reached). */
export interface McpRequestFacts {
  readonly token: string | undefined;
  /**
   * How the token came and what a DPoP proof must match: the resource URI as the client sees it.
   * One object per HTTP request, so deciding its list items or its exchange is not a proof replay.
   */
  readonly dpop?: DpopEvidence;
  readonly resourceUri: string;
  readonly sessionId?: string;
  readonly protocolVersion?: string;
  readonly requestId?: string;
  readonly peer?: string;
}

/**
 * The transport-agnostic request: the MCP facts go to policies as `input.context.mcp` (`method`,
 * `arguments`, `session_id`, `protocol_version`, `resource`, and `listing: true` when the question
 * is asked to filter a list answer).
 */
export function authzRequestOf(
  question: McpQuestion,
  facts: McpRequestFacts,
  listing = false,
): AuthzRequest {
  return {
    token: facts.token,
    action: question.action,
    ...(question.resource !== undefined ? { resource: question.resource } : {}),
    context: {
      mcp: {
        resource: facts.resourceUri,
        ...(question.method !== undefined ? { method: question.method } : {}),
        ...(question.arguments !== undefined ? { arguments: question.arguments } : {}),
        ...(facts.sessionId !== undefined ? { session_id: facts.sessionId } : {}),
        ...(facts.protocolVersion !== undefined ? { protocol_version: facts.protocolVersion } : {}),
        ...(listing ? { listing: true } : {}),
      },
    },
    transport: 'mcp',
    ...(facts.dpop !== undefined ? { dpop: facts.dpop } : {}),
    ...(facts.requestId !== undefined ? { requestId: facts.requestId } : {}),
    ...(facts.peer !== undefined ? { peer: facts.peer } : {}),
  };
}
