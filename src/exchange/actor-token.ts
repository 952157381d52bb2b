// mandate's own access token (client credentials), sent as the exchange's actor_token; cached and fetched once at a time.
import type { AsFailure } from './errors.js';
import { createSingleFlight } from './single-flight.js';
import type { TokenClient } from './token-client.js';

export type ActorTokenResult =
  { readonly ok: true; readonly token: string } | ({ readonly ok: false } & AsFailure);

export interface ActorTokenSource {
  get(): Promise<ActorTokenResult>;
  /** Forget the cached token (e.g. after the AS refused it). */
  reset(): void;
}

export interface ActorTokenOptions {
  readonly scope?: string;
  readonly resource?: string;
  /** Renew once fewer than this many seconds remain. */
  readonly skewSeconds: number;
  /** Used when the AS gives no lifetime at all, seconds. */
  readonly fallbackLifetimeSeconds?: number;
  readonly now?: () => number;
}

export function createActorTokenSource(
  client: TokenClient,
  options: ActorTokenOptions,
): ActorTokenSource {
  const now = options.now ?? Date.now;
  const flight = createSingleFlight<ActorTokenResult>();
  let cached: { token: string; renewAtMs: number } | undefined;

  async function fetchToken(): Promise<ActorTokenResult> {
    const result = await client.clientCredentials(options.scope, options.resource);
    if (!result.ok) {
      return { ...result, message: `could not obtain mandate's actor token: ${result.message}` };
    }
    const lifetime = result.token.expiresIn ?? options.fallbackLifetimeSeconds ?? 60;
    // Renew before the skew, but never cache for less than nothing: a very short token is used once.
    cached = {
      token: result.token.accessToken,
      renewAtMs: now() + Math.max(0, lifetime - options.skewSeconds) * 1000,
    };
    return { ok: true, token: result.token.accessToken };
  }

  return {
    async get() {
      if (cached && cached.renewAtMs > now()) return { ok: true, token: cached.token };
      return (await flight.run('actor', fetchToken)).value;
    },
    reset() {
      cached = undefined;
    },
  };
}
