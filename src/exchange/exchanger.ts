// The on-behalf-of hop: decide whether an exchange is allowed, then serve it from the cache or the authorization server, and audit it.
import type { FetchLike } from '../lib/fetch-deadline.js';
import { exchangeRecordOf } from '../audit/exchange-record.js';
import type { AuditSink } from '../audit/sink.js';
import type { ExchangeConfig } from '../config/exchange.js';
import type { Decider } from '../core/decision.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier } from '../token/types.js';
import { createActorTokenSource, type ActorTokenSource } from './actor-token.js';
import { createAsCaller, observed, type Flight } from './as-call.js';
import { createAsHttp } from './as-http.js';
import { createCacheLookup } from './cache-lookup.js';
import { createClientAuthenticator } from './client-auth.js';
import { exchangeFactsOf, type Trail } from './exchange-audit.js';
import { createExchangeCache, type ExchangeCache, type SubjectInfo } from './exchange-cache.js';
import { gateRequest, normaliseScopes, subjectOf } from './gate.js';
import { createEndpointResolver, type EndpointResolver } from './metadata.js';
import { failure, internalDecision, success } from './results.js';
import { createSingleFlight } from './single-flight.js';
import { createTokenClient, type TokenClient } from './token-client.js';
import type { ExchangeObserver, ExchangeRequest, ExchangeResult } from './types.js';

export { EXCHANGE_ACTION, EXCHANGE_RESOURCE_TYPE } from './gate.js';
export type {
  ExchangeObserver,
  ExchangeRequest,
  ExchangeResult,
  ExchangeSuccess,
} from './types.js';

export interface TokenExchangerDeps {
  readonly decider: Decider;
  readonly verifier: TokenVerifier;
  readonly audit: AuditSink;
  readonly observer?: ExchangeObserver;
  /** Receives unexpected exceptions; the caller sees `internal_error`. */
  readonly onError?: (err: unknown) => void;
  /**
   * True when a revocation now matches this subject. Checked for every cached exchange every
   * `sweepIntervalMs`, so exchanges of a revoked token that is never presented again go too.
   */
  readonly isRevoked?: (subject: SubjectInfo) => boolean;
  /** Period of that sweep, milliseconds. Default 10000. */
  readonly sweepIntervalMs?: number;
  /** Seams for tests. */
  readonly fetch?: FetchLike;
  readonly now?: () => number;
}

export interface TokenExchanger {
  /** Never throws: every failure is a value with a code. */
  exchange(request: ExchangeRequest): Promise<ExchangeResult>;
  /** The exchanged-token cache, for revocation to drop a subject token's exchanges. */
  readonly cache: ExchangeCache;
  /** mandate's identity as the actor (policy `input.context.actor`). */
  readonly actorName: string;
  /** Resolves the token endpoint once (best effort: a failure is reported in status, not thrown). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** OK, or WARN after a failed call to the AS: an unreachable AS never makes the sidecar unready, checks do not need it. */
  status(): ComponentStatus;
}

/** Builds the exchanger; loads the private_key_jwt key now, so a bad key file fails at start-up. */
export async function createTokenExchanger(
  config: ExchangeConfig,
  deps: TokenExchangerDeps,
): Promise<TokenExchanger> {
  const now = deps.now ?? Date.now;
  const http = createAsHttp({
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    retryBackoffMs: config.retryBackoffMs,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const endpoints: EndpointResolver = createEndpointResolver(config.endpoint, http);
  const auth = await createClientAuthenticator(config.clientId, config.clientAuth);
  const client: TokenClient = observed(createTokenClient(endpoints, auth, http), deps.observer);
  const actor: ActorTokenSource | undefined =
    config.actor.mode === 'client_credentials'
      ? createActorTokenSource(client, {
          ...(config.actor.scope !== undefined ? { scope: config.actor.scope } : {}),
          ...(config.actor.resource !== undefined ? { resource: config.actor.resource } : {}),
          skewSeconds: config.cacheSkewSeconds,
          now,
        })
      : undefined;
  const cache = createExchangeCache({
    maxEntries: config.cacheMaxEntries,
    skewSeconds: config.cacheSkewSeconds,
    now,
  });
  const flights = createSingleFlight<Flight>();
  const actorName = config.actor.name;
  let lastFailure: { message: string; at: string } | undefined;
  let sweep: NodeJS.Timeout | undefined;

  const callAs = createAsCaller({ client, actor, now });
  const lookup = createCacheLookup({
    cache,
    verifier: deps.verifier,
    actorName,
    ...(deps.isRevoked ? { isRevoked: deps.isRevoked } : {}),
  });

  async function run(request: ExchangeRequest, trail: Trail): Promise<ExchangeResult> {
    const scopes = normaliseScopes(request.scopes);
    trail.scopes = scopes;
    const subjectToken = request.subjectToken;
    const key =
      subjectToken !== undefined && subjectToken.length > 0 && config.cacheMaxEntries > 0
        ? lookup.keyOf(subjectToken, request, scopes)
        : undefined;
    if (subjectToken !== undefined && key !== undefined) {
      const hit = await lookup.hit(subjectToken, key, request, trail);
      if (hit) {
        trail.decision = hit.decision;
        return success(hit, 'hit', hit.decision, now());
      }
    }

    const gate = gateRequest(request, scopes, actorName);
    const decision = await deps.decider.decide(gate);
    trail.decision = decision;
    if (!decision.allow || subjectToken === undefined) {
      // A revoked subject token takes its cached exchanges with it, now rather than at their expiry.
      if (subjectToken !== undefined && decision.reasons.some((r) => r.code === 'revoked')) {
        cache.dropBySubjectToken(tokenFingerprint(subjectToken));
      }
      return failure('denied', decision, {
        message: decision.reasons[0]?.message ?? 'the exchange was denied',
      });
    }
    // Verified a moment ago by decide(): this is a cache hit that hands over the claims.
    const verified = await deps.verifier.verify(subjectToken);
    if (!verified.ok) return failure('denied', decision, { message: verified.message });
    const subject = subjectOf(verified, decision);
    trail.subjectTokenHash = verified.tokenHash;
    // Decided just now (proof and all): an exchange made earlier for this same input still serves.
    const earlier = key !== undefined ? cache.get(key) : undefined;
    if (earlier !== undefined) return success(earlier, 'hit', decision, now());

    const flightKey = key ?? lookup.keyOf(subjectToken, request, scopes);
    const { value, shared } = await flights.run(flightKey, async () => {
      const flight = await callAs({ ...request, subjectToken }, scopes, subject, decision);
      if (flight.ok && key !== undefined) cache.set(key, flight.entry);
      return flight;
    });
    // Only the caller that made the call reports the AS's status; the others shared its answer.
    const asStatus = value.ok ? value.status : value.asStatus;
    if (!shared && asStatus !== undefined) trail.asStatus = asStatus;
    if (!value.ok) {
      lastFailure = { message: value.message, at: new Date(now()).toISOString() };
      return failure(value.code, decision, value);
    }
    lastFailure = undefined;
    return success(value.entry, shared ? 'shared' : 'miss', decision, now());
  }

  return {
    cache,
    actorName,
    async exchange(request) {
      const started = process.hrtime.bigint();
      const trail: Trail = {};
      let result: ExchangeResult;
      try {
        result = await run(request, trail);
      } catch (err) {
        deps.onError?.(err);
        result = failure('internal_error', trail.decision ?? internalDecision(), {
          message: 'the exchange failed unexpectedly',
        });
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      try {
        deps.audit.write(
          exchangeRecordOf(exchangeFactsOf(request, result, trail, actorName, seconds)),
        );
        deps.observer?.exchange?.(
          result.ok ? 'issued' : result.code,
          result.ok ? result.cache : 'none',
          seconds,
        );
      } catch (err) {
        deps.onError?.(err);
      }
      return result;
    },
    async start() {
      const isRevoked = deps.isRevoked;
      if (isRevoked && sweep === undefined) {
        sweep = setInterval(
          () => cache.invalidate((subject) => isRevoked(subject)),
          deps.sweepIntervalMs ?? 10_000,
        );
        sweep.unref();
      }
      const found = await endpoints.resolve();
      if (!found.ok) lastFailure = { message: found.message, at: new Date(now()).toISOString() };
    },
    async stop() {
      if (sweep !== undefined) clearInterval(sweep);
      sweep = undefined;
      cache.clear();
    },
    status: () => exchangerStatus(lastFailure, endpoints, cache),
  };
}

/** WARN after a failed call to the AS or before the token endpoint is known; OK otherwise. */
function exchangerStatus(
  lastFailure: { message: string; at: string } | undefined,
  endpoints: EndpointResolver,
  cache: ExchangeCache,
): ComponentStatus {
  const known = endpoints.known();
  if (lastFailure) {
    return {
      state: 'WARN',
      message: `token exchange: ${lastFailure.message}`,
      detail: { since: lastFailure.at },
    };
  }
  return known
    ? { state: 'OK', detail: { token_endpoint: known.tokenEndpoint, cached: cache.size() } }
    : { state: 'WARN', message: 'token exchange: the token endpoint is not known yet' };
}
