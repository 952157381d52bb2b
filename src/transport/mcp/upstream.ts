// Forwards an allowed MCP request to the upstream server: chosen headers only (never the client's token), identity headers and mandate's token for the upstream added.
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ClientRequest,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Decision } from '../../core/decision.js';
import { addIdentityHeaders } from '../identity-headers.js';

/** Request headers passed to the upstream; everything else (Authorization, Cookie, hop-by-hop) stays here. */
const FORWARDED_REQUEST_HEADERS = [
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'user-agent',
] as const;

/**
 * Response headers passed back to the client: the MCP ones, and those a status needs to be acted on
 * (`allow` with a 405, as a server without a GET stream answers; `retry-after` with a 503 or 429).
 */
export const FORWARDED_RESPONSE_HEADERS = [
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'cache-control',
  'content-length',
  'allow',
  'retry-after',
] as const;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** What mandate adds to a forwarded request. */
export interface UpstreamCredentials {
  /** Send the decided identity as `x-mandate-*` headers. */
  readonly sendIdentityHeaders: boolean;
  /** A token obtained for the upstream (never the client's), sent as `Authorization: Bearer`. */
  readonly token?: string;
}

/**
 * The headers the upstream gets: the forwarded ones, then mandate's token for the upstream and its
 * identity headers (a client's own Authorization and x-mandate-* never pass).
 */
export function upstreamHeadersOf(
  incoming: IncomingHttpHeaders,
  decision: Decision,
  credentials: UpstreamCredentials,
  bodyBytes?: number,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = single(incoming[name]);
    if (value !== undefined) headers[name] = value;
  }
  if (bodyBytes !== undefined) headers['content-length'] = String(bodyBytes);
  if (credentials.token !== undefined) headers['authorization'] = `Bearer ${credentials.token}`;
  if (credentials.sendIdentityHeaders) addIdentityHeaders(headers, decision);
  return headers;
}

export interface UpstreamCall {
  readonly request: ClientRequest;
  readonly response: Promise<IncomingMessage>;
}

/**
 * Starts the upstream request; `response` settles once its headers arrive, and rejects when the
 * upstream cannot be reached or does not start answering within `timeoutMs`.
 */
export function callUpstream(
  url: URL,
  method: string,
  headers: Record<string, string>,
  timeoutMs: number,
): UpstreamCall {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const request = send(url, { method, headers });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      request.destroy(new Error(`the upstream did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    request.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    request.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { request, response };
}
