// Finds the token endpoint: from config, or by OAuth AS metadata discovery (RFC 8414, then OpenID Connect Discovery).
import type { ExchangeEndpoint } from '../config/exchange.js';
import type { AsFailure } from './errors.js';
import type { AsHttp } from './as-http.js';

/** What mandate needs from the authorization server's metadata. */
export interface AsEndpoints {
  readonly tokenEndpoint: string;
  /** The AS issuer identifier, when known (discovery); an audience private_key_jwt may use. */
  readonly issuer?: string;
}

export type EndpointResult =
  ({ readonly ok: true } & AsEndpoints) | ({ readonly ok: false } & AsFailure);

export interface EndpointResolver {
  /** The endpoints; discovery runs once and is remembered, a failed one is tried again next time. */
  resolve(): Promise<EndpointResult>;
  /** The endpoints if already known, without I/O. */
  known(): AsEndpoints | undefined;
}

/**
 * RFC 8414 §3: the well-known suffix goes between the host and the issuer's path. OpenID Connect
 * Discovery appends it to the issuer instead; both are tried, in that order.
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

export function createEndpointResolver(endpoint: ExchangeEndpoint, http: AsHttp): EndpointResolver {
  if (endpoint.kind === 'token_endpoint') {
    const fixed = { ok: true as const, tokenEndpoint: endpoint.url };
    return { resolve: async () => fixed, known: () => fixed };
  }
  const issuer = endpoint.issuer;
  let found: (AsEndpoints & { ok: true }) | undefined;
  let inFlight: Promise<EndpointResult> | undefined;

  async function discover(): Promise<EndpointResult> {
    let last: AsFailure | undefined;
    for (const url of metadataUrls(issuer)) {
      const answer = await http.getJson(url);
      if (!answer.ok) {
        // Unreachable or timing out: the second document is on the same host, do not wait twice.
        return { ...answer, message: `AS metadata discovery failed: ${answer.message}` };
      }
      if (answer.status === 404) {
        last = { code: 'as_unavailable', message: `no AS metadata at ${url}`, asStatus: 404 };
        continue;
      }
      const doc = answer.body as Record<string, unknown> | undefined;
      if (answer.status !== 200 || typeof doc !== 'object' || doc === null) {
        return {
          ok: false,
          code: 'as_invalid_response',
          message: `AS metadata at ${url} answered ${answer.status} without a JSON document`,
          asStatus: answer.status,
        };
      }
      // RFC 8414 §3.3: the document must be for the issuer that was asked, or it is not trusted.
      if (doc['issuer'] !== issuer) {
        return {
          ok: false,
          code: 'as_invalid_response',
          message: `AS metadata at ${url} is for issuer ${JSON.stringify(doc['issuer'])}, not ${issuer}`,
        };
      }
      const tokenEndpoint = doc['token_endpoint'];
      if (typeof tokenEndpoint !== 'string' || !/^https?:\/\//.test(tokenEndpoint)) {
        return {
          ok: false,
          code: 'as_invalid_response',
          message: `AS metadata at ${url} has no usable token_endpoint`,
        };
      }
      return { ok: true, tokenEndpoint, issuer };
    }
    return {
      ok: false,
      code: 'as_unavailable',
      message: `AS metadata discovery failed: ${last?.message ?? 'no document'}`,
      asStatus: 404,
    };
  }

  return {
    known: () => found,
    resolve() {
      if (found) return Promise.resolve(found);
      inFlight ??= discover().then((result) => {
        inFlight = undefined;
        if (result.ok) found = result;
        return result;
      });
      return inFlight;
    },
  };
}
