// What crosses the HTTP proxy in each direction: hop-by-hop and credential headers stay, X-Forwarded-* and identity headers are set.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Decision } from '../../core/decision.js';
import { addIdentityHeaders } from '../identity-headers.js';

/** RFC 9110 §7.6.1 connection-specific fields (and the old `proxy-connection`, `keep-alive`). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request fields that never reach the upstream besides the hop-by-hop ones: the client's
 * credentials (the upstream gets identity headers instead, and a DPoP proof is no use there), the
 * Host (the upstream's own is sent), `expect` (the proxy already answered `100 Continue`),
 * forwarding headers (set by the proxy, never taken from the client), and method overrides (the
 * upstream must run the method that was decided, not one a header names).
 */
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'dpop',
  'host',
  'expect',
  'forwarded',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/** Prefixes of request fields the proxy owns: forwarding facts and mandate's identity headers. */
const OWNED_PREFIXES = ['x-forwarded-', 'x-mandate-'] as const;

/** The field names a `Connection` header lists: hop-by-hop for this connection too (RFC 9110 §7.6.1). */
function connectionOptions(value: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const line of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const name of line.split(',')) names.add(name.trim().toLowerCase());
  }
  return names;
}

/** Where the request came from, as the proxy saw it. */
export interface ForwardingFacts {
  /** The client's address (the socket peer). */
  readonly peer: string | undefined;
  /** The `Host` the client asked for. */
  readonly host: string | undefined;
}

/**
 * The headers the upstream gets: the client's own minus hop-by-hop, credential and owned fields;
 * `x-forwarded-for`, `-host` and `-proto` as this proxy saw the request (a client's own are
 * replaced: mandate is where the trust starts); the decided caller's identity headers.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  decision: Decision,
  facts: ForwardingFacts,
): OutgoingHttpHeaders {
  const listed = connectionOptions(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || NOT_FORWARDED.has(name)) continue;
    if (listed.has(name) || OWNED_PREFIXES.some((p) => name.startsWith(p))) continue;
    out[name] = value;
  }
  if (facts.peer !== undefined) out['x-forwarded-for'] = facts.peer;
  if (facts.host !== undefined) out['x-forwarded-host'] = facts.host;
  out['x-forwarded-proto'] = 'http';
  addIdentityHeaders(out, decision);
  return out;
}

/** The upstream's answer headers minus the hop-by-hop ones (the proxy frames its own answer). */
export function clientResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionOptions(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}
