// Envoy egress mode: an outbound request's destination host names an audience; its token is exchanged and the upstream `authorization` replaced.
import { randomUUID } from 'node:crypto';
import type { EgressRoute } from '../../config/exchange.js';
import type { TokenExchanger } from '../../exchange/exchanger.js';
import type { EnvoyAuthorizer } from './authz.js';
import { dpopEvidenceOf, presentedToken } from './request.js';
import { JSON_TYPE, type EnvoyVerdict, type HeaderPair } from './response.js';
import type { EnvoyCall } from './input.js';
import { presentExchangeFailure } from '../exchange-status.js';

/**
 * The ext_authz `context_extensions` entry that marks a call as egress. Envoy sets it in its
 * configuration (per listener, virtual host or route), never from the client's request, e.g.
 *   typed_per_filter_config: { envoy.filters.http.ext_authz: { check_settings:
 *     { context_extensions: { mandate_mode: egress } } } }
 */
export const EGRESS_MODE_KEY = 'mandate_mode';
export const EGRESS_MODE_VALUE = 'egress';

export interface EgressAuthorizerDeps {
  readonly exchanger: TokenExchanger;
  /** Destination host (`host` or `host:port`, lower-case) → what to exchange for. */
  readonly routes: Readonly<Record<string, EgressRoute>>;
  /** Headers the outbound token may come in, searched in order: `envoy.token_headers`, as on ingress. */
  readonly tokenHeaders: readonly string[];
}

/** The route for a destination: `host:port` first, then the bare host. */
export function egressRouteOf(
  routes: Readonly<Record<string, EgressRoute>>,
  host: string,
): EgressRoute | undefined {
  const name = host.toLowerCase();
  const exact = routes[name];
  if (exact) return exact;
  const bare = name.startsWith('[') ? name.replace(/:\d+$/, '') : name.split(':', 1)[0];
  return bare !== undefined ? routes[bare] : undefined;
}

function deny(
  decisionId: string,
  status: number,
  body: object,
  extra: HeaderPair[] = [],
): EnvoyVerdict {
  return {
    kind: 'deny',
    decisionId,
    status,
    headers: [JSON_TYPE, ...extra],
    body: JSON.stringify(body),
    dynamicMetadata: { decision_id: decisionId, egress: true },
  };
}

/** Answers egress calls: exchange, then allow with the new token, or deny saying why (never passing the old token on). */
export function createEgressAuthorizer(deps: EgressAuthorizerDeps): EnvoyAuthorizer {
  const tokenHeaders = deps.tokenHeaders;
  return {
    async authorize(call: EnvoyCall): Promise<EnvoyVerdict> {
      const route = egressRouteOf(deps.routes, call.host);
      if (route === undefined) {
        // Fail closed: an unknown destination must not receive the caller's token.
        const decisionId = randomUUID();
        return deny(decisionId, 403, {
          error: 'egress_unmapped',
          message: `no egress route for host ${JSON.stringify(call.host)}`,
          decision_id: decisionId,
        });
      }
      // The same credential reading and DPoP rules as ingress: a proof is checked by the gate.
      const presented = presentedToken(call.headers, tokenHeaders);
      try {
        const result = await deps.exchanger.exchange({
          subjectToken: presented?.token,
          ...(presented !== undefined ? { dpop: dpopEvidenceOf(call, presented) } : {}),
          audience: route.audience,
          scopes: route.scopes,
          ...(route.resource !== undefined ? { resource: route.resource } : {}),
          transport: call.transport,
          ...(call.requestId !== '' ? { requestId: call.requestId } : {}),
        });
        if (!result.ok) {
          const shown = presentExchangeFailure(result, presented?.scheme);
          return deny(
            shown.body.decision_id,
            shown.httpStatus,
            shown.body,
            shown.wwwAuthenticate !== undefined
              ? [{ name: 'www-authenticate', value: shown.wwwAuthenticate, overwrite: true }]
              : [],
          );
        }
        const decisionId = result.decision.decisionId;
        return {
          kind: 'allow',
          decisionId,
          upstreamHeaders: [
            {
              name: 'authorization',
              value: `${result.tokenType.toLowerCase() === 'bearer' ? 'Bearer' : result.tokenType} ${result.accessToken}`,
              overwrite: true,
            },
          ],
          // Any other header the token could have travelled in must not reach the destination.
          removeHeaders: tokenHeaders.filter((h) => h !== 'authorization'),
          responseHeaders: [],
          queryToSet: [],
          queryToRemove: [],
          dynamicMetadata: { decision_id: decisionId, egress: true, exchange_cache: result.cache },
        };
      } catch {
        const decisionId = randomUUID();
        return deny(decisionId, 503, {
          error: 'internal_error',
          message: 'the egress exchange failed unexpectedly',
          decision_id: decisionId,
        });
      }
    },
  };
}

/** Sends calls marked as egress (see {@link EGRESS_MODE_KEY}) to `egress`, every other call to `ingress`. */
export function routeByMode(ingress: EnvoyAuthorizer, egress: EnvoyAuthorizer): EnvoyAuthorizer {
  return {
    authorize(call) {
      const extensions = call.attributes['contextExtensions'] as
        Record<string, unknown> | undefined;
      return extensions?.[EGRESS_MODE_KEY] === EGRESS_MODE_VALUE
        ? egress.authorize(call)
        : ingress.authorize(call);
    },
  };
}
