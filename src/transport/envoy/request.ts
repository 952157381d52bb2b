// Envoy request mapping: an EnvoyCall (from a gRPC CheckRequest or an HTTP ext_authz call) → the transport-agnostic AuthzRequest.
import type { EnvoyConfig } from '../../config/envoy.js';
import { DEFAULT_MAX_NESTING_DEPTH } from '../../lib/nesting.js';
import type { Reason } from '../../core/reasons.js';
import type { AuthzRequest } from '../../core/request.js';
import type { DecideTerms, DryRunRule } from '../../core/terms.js';
import type { DpopEvidence } from '../../core/request.js';
import type { RouteTable } from '../route-table.js';
import { compatDocumentOf, type EnvoyCall } from './input.js';
import { mcpAuthzRequestOf, mcpCallOf, type EnvoyMcpOptions, type McpAnswer } from './mcp-call.js';
import { decidedMethodOf, presentedTokenOf, type PresentedToken } from './request-headers.js';

/** What the mapping needs to know, fixed when the adapter is built. */
export interface EnvoyRequestOptions {
  readonly config: EnvoyConfig;
  readonly routes: RouteTable;
  /** Attach the OPA-Envoy input document (the compatibility policy is evaluated). */
  readonly compat: boolean;
  /** Deepest nesting accepted in a parsed body; deeper is denied with `request_invalid`. Default 64. */
  readonly maxNestingDepth?: number;
  /** MCP resources: a call on one's path is decided per JSON-RPC message, as the MCP proxy does. */
  readonly mcp?: EnvoyMcpOptions;
}

/** One Envoy call as the pipeline takes it: the request, and what the adapter settles itself. */
export interface EnvoyRequest {
  readonly request: AuthzRequest;
  /** The adapter's own denial, the OPA-Envoy document in compat mode, shadow mode. */
  readonly terms: DecideTerms;
  /** On an MCP resource's path: how a denial is answered (an MCP client's terms). */
  readonly mcp?: McpAnswer;
}

/**
 * Maps one Envoy call to the requests (with their terms) decideWith() must all allow, in order:
 * one, or two when a method-override header names another method than the request line's (the
 * named method first, then the line's). Never throws on input.
 */
export type EnvoyRequestMapper = (call: EnvoyCall) => readonly EnvoyRequest[];

/** The token from the configured headers and how it came; undefined when none, or when ambiguous. */
export function presentedToken(
  headers: Readonly<Record<string, string>>,
  names: readonly string[],
): PresentedToken | undefined {
  const reading = presentedTokenOf(headers, names);
  return reading.ambiguity === undefined ? reading.presented : undefined;
}

/**
 * What a DPoP proof must match (RFC 9449) for a credential presented in an Envoy call, ingress or
 * egress alike: the parts as seen, each validated by the verifier, never glued into one URL (a
 * host could then carry a path, query or userinfo). Its htm is the request line's method, which the
 * client signed, whatever an override says. Frozen: the verifier may recognise it as one request.
 */
export function dpopEvidenceOf(call: EnvoyCall, presented: PresentedToken): DpopEvidence {
  return Object.freeze({
    scheme: presented.scheme,
    proof: call.headers['dpop'],
    request: Object.freeze({
      method: call.method.toUpperCase(),
      scheme: call.scheme,
      authority: call.host,
      path: call.path.split(/[?#]/, 1)[0] ?? call.path,
    }),
  });
}

/**
 * The mapper for one adapter: method (and override), route → action and resource, tenant, the
 * credential and its DPoP evidence, dry-run settings, the OPA-Envoy document in compat mode, and
 * the adapter's own denial (`request_invalid`, `route_unmapped`) for the pipeline to report.
 */
export function createEnvoyRequestMapper(options: EnvoyRequestOptions): EnvoyRequestMapper {
  const { config, routes } = options;
  const dryRunTenants = new Set(config.dryRun.tenants);
  /** Shadow mode per listener (and per tenant on both); undefined when nothing is shadowed. */
  const dryRunOf = (all: boolean): DryRunRule | undefined =>
    all || dryRunTenants.size > 0 ? Object.freeze({ all, tenants: dryRunTenants }) : undefined;
  const dryRunGrpc = dryRunOf(config.dryRun.grpc);
  const dryRunHttp = dryRunOf(config.dryRun.http);
  const maxNestingDepth = options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH;
  const mcpByPath = new Map((options.mcp?.resources ?? []).map((r) => [r.path, r]));
  const mcpBodyLimit = options.mcp?.bodyLimitBytes ?? 0;

  return (call) => {
    const line = call.method.toUpperCase();
    // Headers that could make the upstream read the request otherwise than mandate decides it.
    const decided = decidedMethodOf(call.method, call.headers, config.methodOverrideHeaders);
    const credential = presentedTokenOf(call.headers, config.tokenHeaders);
    const denial: Reason | undefined = !decided.ok
      ? { code: 'request_invalid', message: decided.message }
      : credential.ambiguity !== undefined
        ? { code: 'request_invalid', message: credential.ambiguity }
        : undefined;
    // An upstream that honours the override runs the named method; one that ignores it runs the
    // request line's. mandate cannot know which, so both must be allowed.
    const methods = decided.ok && decided.method !== line ? [decided.method, line] : [line];
    const pathOnly = call.path.split(/[?#]/, 1)[0] ?? call.path;
    const dryRun = call.transport === 'envoy_grpc' ? dryRunGrpc : dryRunHttp;
    // Verified even when ambiguous: the pipeline answers a bad token before the adapter's denial.
    const presented = credential.presented;
    // One frozen object for every request of this call: the verifier knows it as one use of the proof.
    const dpop = presented && dpopEvidenceOf(call, presented);
    const headerTenant =
      config.tenantHeader !== undefined ? call.headers[config.tenantHeader] : undefined;

    const mcpResource = mcpByPath.get(pathOnly);
    if (mcpResource !== undefined) {
      // One message, one decision (base AND tenant, never the compatibility policy), as the MCP
      // proxy decides it; the upstream reads the method of the request line only.
      const mcp = mcpCallOf(call, mcpResource, mcpBodyLimit);
      const overridden =
        decided.ok && decided.method !== line
          ? `method override headers are refused on an MCP path (${decided.method})`
          : undefined;
      const refusal =
        denial ??
        (overridden !== undefined
          ? { code: 'request_invalid' as const, message: overridden }
          : undefined) ??
        mcp.refusal;
      const request: AuthzRequest = {
        ...mcpAuthzRequestOf(call, mcp, presented?.token),
        ...(dpop ? { dpop } : {}),
        ...(headerTenant !== undefined && headerTenant !== '' ? { tenant: headerTenant } : {}),
      };
      const terms: DecideTerms = {
        ...(dryRun ? { dryRun } : {}),
        ...(refusal ? { refusal } : {}),
      };
      return [{ request, terms, mcp: mcp.answer }];
    }

    let compatInput: Readonly<Record<string, unknown>> | undefined;
    let compatDenial: Reason | undefined;
    if (options.compat) {
      const doc = compatDocumentOf(call, config.compat.parseBody, maxNestingDepth);
      if (doc.ok) compatInput = doc.input;
      else compatDenial = { code: 'request_invalid', message: doc.message };
    }

    return methods.map((method): EnvoyRequest => {
      const match = routes.match(method, call.path);
      let refusal = denial;
      let action: string;
      let resource: AuthzRequest['resource'];
      if (match) {
        action = match.action;
        resource = match.resource;
      } else {
        action = `http.${method.toLowerCase()}`;
        resource = { type: 'http_path', id: pathOnly };
        if (config.unmapped === 'deny') {
          refusal ??= { code: 'route_unmapped', message: `no route maps ${method} ${pathOnly}` };
        }
      }
      refusal ??= compatDenial;
      const tenant = match?.tenant ?? headerTenant;
      const request: AuthzRequest = {
        token: presented?.token,
        ...(dpop ? { dpop } : {}),
        action,
        ...(resource ? { resource } : {}),
        ...(tenant !== undefined && tenant !== '' ? { tenant } : {}),
        context: {
          http: { method, path: pathOnly, host: call.host },
          ...(match ? { route: match.template, params: match.params } : {}),
        },
        transport: call.transport,
        ...(call.requestId !== '' ? { requestId: call.requestId } : {}),
      };
      const terms: DecideTerms = {
        ...(dryRun ? { dryRun } : {}),
        ...(refusal ? { refusal } : {}),
        ...(compatInput ? { compatDocument: compatInput } : {}),
      };
      return { request, terms };
    });
  };
}
