// The on-behalf-of hop: decide whether an exchange is allowed, then serve it from the cache or the authorization server, and audit it.
import type { FetchLike } from '../lib/fetch-deadline.js';
import { createHash, randomUUID } from 'node:crypto';
import type { ExchangeAuditRecord, ExchangeOutcome } from '../audit/record.js';
import { AUDIT_SCHEMA_VERSION } from '../audit/record.js';
import type { AuditSink } from '../audit/sink.js';
import type { ExchangeConfig } from '../config/exchange.js';
import type { Decider, Decision } from '../core/decision.js';
import type { AuthzRequest, Transport } from '../core/request.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier } from '../token/types.js';
import { createActorTokenSource, type ActorTokenSource } from './actor-token.js';
import { createAsHttp } from './as-http.js';
import { createClientAuthenticator } from './client-auth.js';
import type { AsFailure, ExchangeFailure, ExchangeFailureCode } from './errors.js';
import {
  createExchangeCache,
  exchangeCacheKey,
  type CachedExchange,
  type ExchangeCache,
  type SubjectInfo,
} from './exchange-cache.js';
import { createEndpointResolver, type EndpointResolver } from './metadata.js';
import { createSingleFlight } from './single-flight.js';
import { createTokenClient, type TokenClient } from './token-client.js';

/** The action the gating decision asks; policies recognise an exchange by it (policies/base/exchange.rego). */
export const EXCHANGE_ACTION = 'token.exchange';

/** The resource type of the gating decision: the target audience. */
export const EXCHANGE_RESOURCE_TYPE = 'audience';

export interface ExchangeRequest {
  /** The caller's access token (the subject token); undefined when none was presented. */
  readonly subjectToken: string | undefined;
  /** Who the new token is for (RFC 8693 `audience`). */
  readonly audience: string;
  /** Scopes asked for; empty asks the AS for its default for the audience. */
  readonly scopes?: readonly string[];
  /** RFC 8707 resource indicator, passed on to the AS. */
  readonly resource?: string;
  /** Tenant the caller says it acts in; must equal the subject token's tenant when given. */
  readonly tenant?: string;
  readonly transport: Transport;
  readonly requestId?: string;
}

export interface ExchangeSuccess {
  readonly ok: true;
  readonly accessToken: string;
  /** Fingerprint of the issued token, for audit. */
  readonly tokenHash: string;
  readonly issuedTokenType: string;
  readonly tokenType: string;
  /** Seconds the token has left (for a cached token, what remains of its life). */
  readonly expiresIn?: number;
  /** Granted scopes, space-separated. */
  readonly scope?: string;
  readonly cache: 'hit' | 'miss' | 'shared';
  readonly decision: Decision;
}

export type ExchangeResult = ExchangeSuccess | ExchangeFailure;

/** Notified of every exchange and every call to the AS (metrics). */
export interface ExchangeObserver {
  exchange?(
    outcome: ExchangeOutcome,
    cache: 'hit' | 'miss' | 'shared' | 'none',
    seconds: number,
  ): void;
  asCall?(grant: 'token_exchange' | 'client_credentials', result: string): void;
}

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

type Flight = { ok: true; entry: CachedExchange; status: number } | ({ ok: false } & AsFailure);

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

  async function callAs(
    request: ExchangeRequest & { subjectToken: string },
    scopes: readonly string[],
    subject: SubjectInfo,
    decision: Decision,
  ): Promise<Flight> {
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
  }

  function keyOf(
    subjectToken: string,
    request: ExchangeRequest,
    scopes: readonly string[],
  ): string {
    return exchangeCacheKey(
      createHash('sha256').update(subjectToken).digest('hex'),
      request.audience,
      request.resource,
      scopes,
      actorName,
    );
  }

  /**
   * The cache-hit path: the subject token still verifies (the verified-token cache: expiry is
   * checked), the tenant guard holds and no revocation matches. The policy is not run again: it
   * decided this exact input (same token, audience, resource, scopes, actor) when the entry was
   * made, and that decision travels with the entry. Anything else falls through to the full path.
   */
  async function cached(
    subjectToken: string,
    key: string,
    request: ExchangeRequest,
    trail: Trail,
  ): Promise<CachedExchange | undefined> {
    const verified = await deps.verifier.verify(subjectToken);
    if (!verified.ok) return undefined;
    const hit = cache.get(key);
    if (hit === undefined) return undefined;
    if (request.tenant !== undefined && request.tenant !== hit.subject.tenant) return undefined;
    if (deps.isRevoked?.(hit.subject)) {
      cache.dropBySubjectToken(hit.subject.tokenHash);
      return undefined;
    }
    trail.subjectTokenHash = verified.tokenHash;
    return hit;
  }

  async function run(request: ExchangeRequest, trail: Trail): Promise<ExchangeResult> {
    const scopes = normaliseScopes(request.scopes);
    trail.scopes = scopes;
    const subjectToken = request.subjectToken;
    const key =
      subjectToken !== undefined && subjectToken.length > 0 && config.cacheMaxEntries > 0
        ? keyOf(subjectToken, request, scopes)
        : undefined;
    if (subjectToken !== undefined && key !== undefined) {
      const hit = await cached(subjectToken, key, request, trail);
      if (hit) {
        trail.decision = hit.decision;
        return success(hit, 'hit', hit.decision);
      }
    }

    const gate: AuthzRequest = {
      token: subjectToken,
      action: EXCHANGE_ACTION,
      resource: {
        type: EXCHANGE_RESOURCE_TYPE,
        id: request.audience,
        attributes: {
          scopes,
          ...(request.resource !== undefined ? { resource: request.resource } : {}),
        },
      },
      ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
      context: { actor: actorName },
      transport: request.transport,
      ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
    };
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
    const jti = verified.claims['jti'];
    const subject: SubjectInfo = {
      tokenHash: verified.tokenHash,
      ...(typeof jti === 'string' ? { jti } : {}),
      ...(decision.subject?.sub !== undefined ? { sub: decision.subject.sub } : {}),
      ...(decision.subject?.tenant !== undefined ? { tenant: decision.subject.tenant } : {}),
      ...(decision.subject?.clientId !== undefined ? { clientId: decision.subject.clientId } : {}),
      act: decision.subject?.act ?? [],
      issuer: verified.issuer,
      claims: verified.claims,
    };
    trail.subjectTokenHash = verified.tokenHash;

    const flightKey = key ?? keyOf(subjectToken, request, scopes);
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
    return success(value.entry, shared ? 'shared' : 'miss', decision);
  }

  function success(
    entry: CachedExchange,
    cacheResult: 'hit' | 'miss' | 'shared',
    decision: Decision,
  ): ExchangeSuccess {
    const remaining = Math.max(0, Math.floor((entry.expiresAtMs - now()) / 1000));
    return {
      ok: true,
      accessToken: entry.accessToken,
      tokenHash: entry.tokenHash,
      issuedTokenType: entry.issuedTokenType,
      tokenType: entry.tokenType,
      expiresIn: remaining,
      ...(entry.scope !== undefined ? { scope: entry.scope } : {}),
      cache: cacheResult,
      decision,
    };
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
        deps.audit.write(auditRecordOf(request, result, trail, actorName, seconds));
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
    status() {
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
    },
  };
}

/** What one exchange learned, kept for its audit record. */
interface Trail {
  decision?: Decision;
  scopes?: readonly string[];
  subjectTokenHash?: string;
  asStatus?: number;
}

/** Sorted and de-duplicated, so `a b` and `b a` share a cache entry and policies see one shape. */
function normaliseScopes(scopes: readonly string[] | undefined): string[] {
  if (scopes === undefined || scopes.length === 0) return [];
  return [...new Set(scopes.filter((s) => s.length > 0))].sort();
}

function failure(
  code: ExchangeFailureCode,
  decision: Decision,
  detail: { message: string; asError?: string; asStatus?: number },
): ExchangeFailure {
  return {
    ok: false,
    code,
    message: detail.message,
    decision,
    ...(detail.asError !== undefined ? { asError: detail.asError } : {}),
    ...(detail.asStatus !== undefined ? { asStatus: detail.asStatus } : {}),
  };
}

function internalDecision(): Decision {
  return {
    allow: false,
    decisionId: randomUUID(),
    reasons: [{ code: 'internal_error', message: 'the exchange failed unexpectedly' }],
    latencyUs: 0,
  };
}

/** Counts every call to the AS by grant and result. */
function observed(client: TokenClient, observer: ExchangeObserver | undefined): TokenClient {
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

function auditRecordOf(
  request: ExchangeRequest,
  result: ExchangeResult,
  trail: Trail,
  actorName: string,
  seconds: number,
): ExchangeAuditRecord {
  const decision = result.decision;
  const subject = decision.subject;
  const scopesGranted = result.ok ? (result.scope?.split(' ') ?? []) : undefined;
  const subjectTokenHash =
    trail.subjectTokenHash ??
    (request.subjectToken !== undefined ? tokenFingerprint(request.subjectToken) : undefined);
  return {
    type: 'exchange',
    schema_version: AUDIT_SCHEMA_VERSION,
    exchange_id: randomUUID(),
    decision_id: decision.decisionId,
    time: new Date().toISOString(),
    transport: request.transport,
    outcome: result.ok ? 'issued' : result.code,
    ...(!result.ok
      ? {
          reasons:
            result.code === 'denied'
              ? decision.reasons
              : [{ code: result.code, message: result.message }],
        }
      : {}),
    ...(subject?.tenant !== undefined ? { tenant: subject.tenant } : {}),
    ...(subject?.sub !== undefined ? { sub: subject.sub } : {}),
    ...(subject?.clientId !== undefined ? { client_id: subject.clientId } : {}),
    ...(subject && subject.act.length > 0 ? { act: subject.act } : {}),
    actor: actorName,
    audience: request.audience,
    ...(request.resource !== undefined ? { resource: request.resource } : {}),
    scopes_requested: trail.scopes ?? [],
    ...(scopesGranted !== undefined ? { scopes_granted: scopesGranted } : {}),
    ...(trail.asStatus !== undefined ? { as_status: trail.asStatus } : {}),
    ...(!result.ok && result.asError !== undefined ? { as_error: result.asError } : {}),
    ...(result.ok ? { cache: result.cache } : {}),
    ...(subjectTokenHash !== undefined ? { subject_token_hash: subjectTokenHash } : {}),
    ...(result.ok ? { issued_token_hash: result.tokenHash } : {}),
    ...(result.ok && result.expiresIn !== undefined ? { expires_in: result.expiresIn } : {}),
    latency_us: Math.round(seconds * 1e6),
    ...(request.requestId !== undefined ? { request_id: request.requestId } : {}),
  };
}
