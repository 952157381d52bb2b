// One exchange at the authorization server: the actor token, the RFC 8693 call, and the cache entry made from the answer.
import type { Decision } from '../core/decision.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { ActorTokenSource } from './actor-token.js';
import type { AsFailure } from './errors.js';
import type { CachedExchange, SubjectInfo } from './exchange-cache.js';
import type { TokenClient } from './token-client.js';
import type { ExchangeObserver, ExchangeRequest } from './types.js';

/** What one call to the AS ends in: an entry ready for the cache (and the AS's status), or a failure. */
export type Flight =
  { ok: true; entry: CachedExchange; status: number } | ({ ok: false } & AsFailure);

export interface AsCallerOptions {
  readonly client: TokenClient;
  /** Present when mandate presents its own actor token (`actor.mode: client_credentials`). */
  readonly actor: ActorTokenSource | undefined;
  readonly now: () => number;
}

/** Calls the AS for an allowed exchange of `subject`'s token, `decision` travelling with the entry. */
export type AsCaller = (
  request: ExchangeRequest & { subjectToken: string },
  scopes: readonly string[],
  subject: SubjectInfo,
  decision: Decision,
) => Promise<Flight>;

/** Builds the caller; it holds no state of its own (the actor source caches the actor token). */
export function createAsCaller({ client, actor, now }: AsCallerOptions): AsCaller {
  return async (request, scopes, subject, decision) => {
    let actorToken: string | undefined;
    if (actor) {
      const got = await actor.get();
      if (!got.ok) return got;
      actorToken = got.token;
    }
    const result = await client.exchange({
      subjectToken: request.subjectToken,
      audience: request.audience,
      ...(request.resource !== undefined ? { resource: request.resource } : {}),
      scopes,
      ...(actorToken !== undefined ? { actorToken } : {}),
    });
    if (!result.ok) {
      // A refused actor token may be revoked or rotated at the AS: fetch a fresh one next time.
      if (result.code === 'as_rejected') actor?.reset();
      return result;
    }
    const { token } = result;
    const entry: CachedExchange = {
      accessToken: token.accessToken,
      tokenHash: tokenFingerprint(token.accessToken),
      tokenType: token.tokenType,
      issuedTokenType: token.issuedTokenType,
      // RFC 8693 §2.2.1: scope may be omitted when it is exactly what was asked for.
      ...(token.scope !== undefined
        ? { scope: token.scope }
        : scopes.length > 0
          ? { scope: scopes.join(' ') }
          : {}),
      expiresAtMs: token.expiresIn !== undefined ? now() + token.expiresIn * 1000 : now(),
      subject,
      audience: request.audience,
      decision,
    };
    return { ok: true, entry, status: result.status };
  };
}

/** Counts every call to the AS by grant and result. */
export function observed(client: TokenClient, observer: ExchangeObserver | undefined): TokenClient {
  if (!observer?.asCall) return client;
  const note = observer.asCall.bind(observer);
  return {
    async exchange(params) {
      const result = await client.exchange(params);
      note('token_exchange', result.ok ? 'ok' : result.code);
      return result;
    },
    async clientCredentials(scope, resource) {
      const result = await client.clientCredentials(scope, resource);
      note('client_credentials', result.ok ? 'ok' : result.code);
      return result;
    },
  };
}
