// Envoy response shaping: a Decision → a transport-neutral verdict (status, headers, body, metadata) that grpc.ts and http.ts put on the wire.
import { randomUUID } from 'node:crypto';
import type { EnvoyConfig } from '../../config/envoy.js';
import type { Decision } from '../../core/decision.js';
import type { Reason } from '../../core/reasons.js';
import type { AuthzRequest } from '../../core/request.js';
import { isFieldName, isFieldValue, unsendableHeader } from './header-values.js';
import { presentDenial } from '../denial-presentation.js';

/** One header (or query parameter) to set. */
export interface HeaderPair {
  readonly name: string;
  readonly value: string;
  /** Replace existing values (mandate's identity headers) rather than append (policy headers). */
  readonly overwrite: boolean;
}

export type EnvoyVerdict =
  | {
      readonly kind: 'allow';
      readonly decisionId: string;
      /** Headers to set on the request forwarded upstream. */
      readonly upstreamHeaders: readonly HeaderPair[];
      /** Headers to remove from the forwarded request. */
      readonly removeHeaders: readonly string[];
      /** Headers Envoy adds to the response going back to the client. */
      readonly responseHeaders: readonly HeaderPair[];
      readonly queryToSet: readonly HeaderPair[];
      readonly queryToRemove: readonly string[];
      /** Emitted as Envoy dynamic metadata. */
      readonly dynamicMetadata: Readonly<Record<string, unknown>>;
    }
  | {
      readonly kind: 'deny';
      readonly decisionId: string;
      readonly status: number;
      readonly headers: readonly HeaderPair[];
      readonly body: string;
      readonly dynamicMetadata: Readonly<Record<string, unknown>>;
    }
  | {
      /** mandate failed and `on_error: error_response`: answer so that Envoy's failure handling applies. */
      readonly kind: 'error';
      readonly decisionId: string;
      readonly message: string;
    };

/** What shaping needs to know, fixed when the adapter is built. */
export interface EnvoyResponderOptions {
  readonly config: Pick<EnvoyConfig, 'identityHeaders' | 'onError'>;
  /** Receives unexpected errors (the caller logs them). */
  readonly onError?: (err: unknown) => void;
}

/** Shapes the answers of one adapter. */
export interface EnvoyResponder {
  /**
   * The verdict for a decision. `shadowed` (dry run) answers a deny as an allow that carries no
   * identity and says what would have happened in its metadata.
   */
  verdictOf(decision: Decision, request: AuthzRequest, shadowed: boolean): EnvoyVerdict;
  /** The fail-closed answer when mandate itself failed: a 503 deny, or an error verdict. */
  failed(err: unknown, message?: string): EnvoyVerdict;
}

export const JSON_TYPE: HeaderPair = {
  name: 'content-type',
  value: 'application/json',
  overwrite: true,
};

function headerStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** OPA-Envoy's `headers`: one object, or a list of objects, of name → string or list of strings. */
function policyHeaders(value: unknown, overwrite: boolean): HeaderPair[] {
  const out: HeaderPair[] = [];
  const maps = Array.isArray(value) ? value : value === undefined ? [] : [value];
  for (const map of maps) {
    if (typeof map !== 'object' || map === null) continue;
    for (const [name, v] of Object.entries(map as Record<string, unknown>)) {
      for (const s of headerStrings(v)) out.push({ name: name.toLowerCase(), value: s, overwrite });
    }
  }
  return out;
}

function objectResult(decision: Decision): Record<string, unknown> | undefined {
  const r = decision.policyResult;
  return typeof r === 'object' && r !== null && !Array.isArray(r)
    ? (r as Record<string, unknown>)
    : undefined;
}

/** What shaping reads, fixed when the responder is built. */
interface Shaping {
  readonly config: EnvoyResponderOptions['config'];
  readonly identity: EnvoyResponderOptions['config']['identityHeaders'];
  readonly identityNames: readonly string[];
}

/** The allow (or shadowed denial) with identity and policy headers; identity only on a real allow. */
function allowVerdict(shape: Shaping, decision: Decision, shadowed: boolean): EnvoyVerdict {
  const { identity, identityNames } = shape;
  const s = decision.subject;
  const set: HeaderPair[] = [];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== '') set.push({ name, value, overwrite: true });
  };
  // Identity only when the decision allowed: a shadowed deny must not vouch for anyone upstream.
  if (decision.allow && s) {
    add(identity.subject, s.sub);
    add(identity.tenant, s.tenant);
    add(identity.client, s.clientId);
    add(identity.scopes, s.scopes.join(' '));
  }
  add(identity.decisionId, decision.decisionId);
  const setNames = new Set(set.map((h) => h.name));
  // Set headers replace incoming copies; the rest are removed, so a client cannot forge any of them.
  const remove = identityNames.filter((name) => !setNames.has(name));
  const result = objectResult(decision);
  const upstream = [...set];
  const responseHeaders: HeaderPair[] = [];
  const queryToSet: HeaderPair[] = [];
  const queryToRemove: string[] = [];
  let policyMetadata: Record<string, unknown> = {};
  if (result && decision.allow) {
    for (const h of policyHeaders(result['headers'], false)) {
      // The policy may add headers, but never one of mandate's identity headers.
      if (!identityNames.includes(h.name)) upstream.push(h);
    }
    remove.push(...headerStrings(result['request_headers_to_remove']).map((h) => h.toLowerCase()));
    responseHeaders.push(...policyHeaders(result['response_headers_to_add'], false));
    const q = result['query_parameters_to_set'];
    if (typeof q === 'object' && q !== null) {
      for (const [name, v] of Object.entries(q as Record<string, unknown>)) {
        for (const value of headerStrings(v)) queryToSet.push({ name, value, overwrite: true });
      }
    }
    queryToRemove.push(...headerStrings(result['query_parameters_to_remove']));
    const md = result['dynamic_metadata'];
    if (typeof md === 'object' && md !== null) policyMetadata = md as Record<string, unknown>;
  }
  return {
    kind: 'allow',
    decisionId: decision.decisionId,
    upstreamHeaders: upstream,
    removeHeaders: [...new Set(remove)],
    responseHeaders,
    queryToSet,
    queryToRemove,
    dynamicMetadata: {
      ...policyMetadata,
      decision_id: decision.decisionId,
      ...(shadowed
        ? {
            dry_run: true,
            would_allow: decision.allow,
            reasons: decision.reasons.map((r) => r.code),
          }
        : {}),
    },
  };
}

/** The denial: mandate's status and challenge, or the compatibility policy's own answer. */
function shapedDenial(shape: Shaping, decision: Decision, request: AuthzRequest): EnvoyVerdict {
  const { identity, config } = shape;
  const first: Reason = decision.reasons[0] ?? {
    code: 'internal_error',
    message: 'denied without a reason',
  };
  const presentation = presentDenial(first, request.action, {
    scheme: request.dpop?.scheme,
    dpopError: decision.dpopError,
  });
  if (presentation.internal && config.onError === 'error_response') {
    return {
      kind: 'error',
      decisionId: decision.decisionId,
      message: `${first.code}: ${first.message} (decision ${decision.decisionId})`,
    };
  }
  const headers: HeaderPair[] = [];
  if (presentation.wwwAuthenticate !== undefined) {
    headers.push({
      name: 'www-authenticate',
      value: presentation.wwwAuthenticate,
      overwrite: true,
    });
  }
  headers.push({ name: identity.decisionId, value: decision.decisionId, overwrite: true });
  let status: number = presentation.status;
  let body = JSON.stringify({ decision_id: decision.decisionId, reasons: decision.reasons });
  let contentType = true;
  const result = objectResult(decision);
  // OPA-Envoy semantics: a policy that denied says how (status, body, headers); mandate's own
  // denials (token, tenant, route) keep mandate's answer.
  if (result && decision.decidedBy === 'compat') {
    const httpStatus = result['http_status'];
    if (typeof httpStatus === 'number') status = httpStatus;
    if (typeof result['body'] === 'string') {
      body = result['body'];
      contentType = false;
    }
    headers.push(...policyHeaders(result['headers'], true));
  }
  if (contentType && !headers.some((h) => h.name === 'content-type')) headers.push(JSON_TYPE);
  return denyVerdict(decision.decisionId, decision.reasons, { status, headers, body });
}

/** The deny form of a verdict. */
export type Denial = Extract<EnvoyVerdict, { kind: 'deny' }>;

/**
 * A denial as Envoy gets it: the answer to send back, with the decision id and the reason codes as
 * dynamic metadata (for access logs and later filters).
 */
export function denyVerdict(
  decisionId: string,
  reasons: readonly { readonly code: string }[],
  answer: {
    readonly status: number;
    readonly headers: readonly HeaderPair[];
    readonly body: string;
  },
): Denial {
  return {
    kind: 'deny',
    decisionId,
    ...answer,
    dynamicMetadata: { decision_id: decisionId, reasons: reasons.map((r) => r.code) },
  };
}

/** A denial mandate answers itself (not shaped by a policy): the decision id and reasons as JSON. */
export function jsonDenial(
  decisionId: string,
  status: number,
  reasons: readonly { readonly code: string; readonly message: string }[],
  headers: readonly HeaderPair[] = [],
): Denial {
  return denyVerdict(decisionId, reasons, {
    status,
    headers: [JSON_TYPE, ...headers],
    body: JSON.stringify({ decision_id: decisionId, reasons }),
  });
}

/** Builds the responder: identity headers, policy-shaped answers (OPA-Envoy), and the fail-closed forms. */
export function createEnvoyResponder(options: EnvoyResponderOptions): EnvoyResponder {
  const { config } = options;
  const identity = config.identityHeaders;
  const shape: Shaping = { config, identity, identityNames: Object.values(identity) };

  function failed(err: unknown, message = 'authorization failed unexpectedly'): EnvoyVerdict {
    options.onError?.(err);
    const decisionId = randomUUID();
    const reasons = [{ code: 'internal_error', message }];
    if (config.onError === 'error_response') {
      return { kind: 'error', decisionId, message: `internal_error (decision ${decisionId})` };
    }
    const idHeader = { name: identity.decisionId, value: decisionId, overwrite: true };
    return jsonDenial(decisionId, 503, reasons, [idHeader]);
  }

  /**
   * A verdict whose headers Envoy can pass on. An allow that would carry a line break or another
   * control character (a claim or a policy header such as `a\r\nx-admin: 1`) fails closed instead:
   * Envoy may forward it unchecked to an HTTP/1 upstream. A denial just drops such headers.
   */
  function sendable(verdict: EnvoyVerdict): EnvoyVerdict {
    if (verdict.kind === 'allow') {
      const bad =
        unsendableHeader(verdict.upstreamHeaders) ??
        unsendableHeader(verdict.responseHeaders) ??
        verdict.removeHeaders.find((name) => !isFieldName(name));
      if (bad === undefined) return verdict;
      const name = typeof bad === 'string' ? bad : bad.name;
      return failed(
        new Error(`allow for decision ${verdict.decisionId} carried an unsendable header`),
        `header ${JSON.stringify(name)}: not a valid header (control characters) for decision ${verdict.decisionId}`,
      );
    }
    if (verdict.kind === 'deny' && unsendableHeader(verdict.headers) !== undefined) {
      return {
        ...verdict,
        headers: verdict.headers.filter((h) => isFieldName(h.name) && isFieldValue(h.value)),
      };
    }
    return verdict;
  }

  return {
    verdictOf(decision, request, shadowed) {
      return decision.allow || shadowed
        ? sendable(allowVerdict(shape, decision, shadowed && !decision.allow))
        : sendable(shapedDenial(shape, decision, request));
    },
    failed,
  };
}
