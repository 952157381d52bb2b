// The two token requests mandate makes (RFC 8693 token exchange, client credentials) and the parsing of their answers.
import type { AsHttp } from './as-http.js';
import { oauthErrorOf } from './as-http.js';
import type { ClientAuthenticator } from './client-auth.js';
import type { AsFailure } from './errors.js';
import type { EndpointResolver } from './metadata.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1), validated. */
export interface TokenResponse {
  readonly accessToken: string;
  readonly tokenType: string;
  /** RFC 8693 `issued_token_type`; for client credentials, the access token type. */
  readonly issuedTokenType: string;
  /** Lifetime in seconds, from `expires_in`, else from the token's own `exp`; undefined when neither says. */
  readonly expiresIn?: number;
  /** The granted scope, when the AS said (it must when it differs from the request). */
  readonly scope?: string;
}

export type TokenResult =
  | { readonly ok: true; readonly status: number; readonly token: TokenResponse }
  | ({ readonly ok: false } & AsFailure);

export interface ExchangeParams {
  readonly subjectToken: string;
  readonly audience: string;
  readonly resource?: string;
  /** Space-joined into `scope` when non-empty. */
  readonly scopes: readonly string[];
  readonly actorToken?: string;
}

export interface TokenClient {
  exchange(params: ExchangeParams): Promise<TokenResult>;
  clientCredentials(scope?: string, resource?: string): Promise<TokenResult>;
}

export function createTokenClient(
  endpoints: EndpointResolver,
  auth: ClientAuthenticator,
  http: AsHttp,
): TokenClient {
  async function post(params: URLSearchParams, grant: string): Promise<TokenResult> {
    const endpoint = await endpoints.resolve();
    if (!endpoint.ok) return endpoint;
    const answer = await http.postForm(endpoint.tokenEndpoint, async () => {
      const form = new URLSearchParams(params);
      const headers: Record<string, string> = {};
      await auth.apply(form, headers, endpoint.issuer ?? endpoint.tokenEndpoint);
      return { form, headers };
    });
    if (!answer.ok) return answer;
    if (answer.status !== 200) {
      const { asError } = oauthErrorOf(answer.body);
      const description = (answer.body as Record<string, unknown> | undefined)?.[
        'error_description'
      ];
      return {
        ok: false,
        code: asError !== undefined ? 'as_rejected' : 'as_invalid_response',
        message:
          asError !== undefined
            ? `the authorization server refused the ${grant} grant: ${asError}${
                typeof description === 'string' ? ` (${description.slice(0, 300)})` : ''
              }`
            : `the authorization server answered ${answer.status} without an OAuth error`,
        asStatus: answer.status,
        ...(asError !== undefined ? { asError } : {}),
      };
    }
    const token = tokenResponseOf(answer.body);
    if (typeof token === 'string') {
      return {
        ok: false,
        code: 'as_invalid_response',
        message: `the authorization server's ${grant} response is invalid: ${token}`,
        asStatus: answer.status,
      };
    }
    return { ok: true, status: answer.status, token };
  }

  return {
    exchange(params) {
      // RFC 8693 §2.1: the subject token, what it is, who the new token is for, and who acts.
      const form = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: params.subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        requested_token_type: ACCESS_TOKEN_TYPE,
        audience: params.audience,
      });
      if (params.resource !== undefined) form.set('resource', params.resource);
      if (params.scopes.length > 0) form.set('scope', params.scopes.join(' '));
      if (params.actorToken !== undefined) {
        form.set('actor_token', params.actorToken);
        form.set('actor_token_type', ACCESS_TOKEN_TYPE);
      }
      return post(form, 'token-exchange');
    },
    clientCredentials(scope, resource) {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (scope !== undefined) form.set('scope', scope);
      if (resource !== undefined) form.set('resource', resource);
      return post(form, 'client_credentials');
    },
  };
}

/** Validates a token response; a string says what is wrong (never echoing the token). */
export function tokenResponseOf(body: unknown): TokenResponse | string {
  if (typeof body !== 'object' || body === null) return 'not a JSON object';
  const b = body as Record<string, unknown>;
  const accessToken = b['access_token'];
  const tokenType = b['token_type'];
  if (typeof accessToken !== 'string' || accessToken.length === 0) return 'no access_token';
  if (typeof tokenType !== 'string' || tokenType.length === 0) return 'no token_type';
  const issued = b['issued_token_type'];
  if (issued !== undefined && typeof issued !== 'string')
    return 'issued_token_type is not a string';
  const expiresInRaw = b['expires_in'];
  if (
    expiresInRaw !== undefined &&
    (typeof expiresInRaw !== 'number' || !Number.isFinite(expiresInRaw) || expiresInRaw < 0)
  ) {
    return 'expires_in is not a non-negative number';
  }
  const scope = b['scope'];
  if (scope !== undefined && typeof scope !== 'string') return 'scope is not a string';
  const expiresIn =
    typeof expiresInRaw === 'number' ? Math.floor(expiresInRaw) : jwtLifetime(accessToken);
  return {
    accessToken,
    tokenType,
    issuedTokenType: typeof issued === 'string' ? issued : ACCESS_TOKEN_TYPE,
    ...(expiresIn !== undefined ? { expiresIn } : {}),
    ...(typeof scope === 'string' ? { scope } : {}),
  };
}

/** Seconds until a JWT's `exp`, read without verification (only to bound caching). */
function jwtLifetime(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (
      JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }
    ).exp;
    if (typeof exp !== 'number') return undefined;
    return Math.max(0, Math.floor(exp - Date.now() / 1000));
  } catch {
    return undefined;
  }
}
