// Keys from a remote JWKS endpoint: fetched at start (retried until it works), refreshed in the background and on an unknown kid.
import type { KeySource } from '../config/types.js';
import { fetchWithDeadline, readTextLimited, type FetchLike } from '../lib/fetch-deadline.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { createTokenBucket } from '../lib/token-bucket.js';
import { tokenFailure } from './errors.js';
import type { KeyLookup, KeyQuery, KeyResolver } from './key-resolver.js';
import { importKeySet, type KeySet } from './key-set.js';
import type { JwksFetchDetail } from './observer.js';

/** A JWKS larger than this is refused: real sets are a few KB, and the endpoint is not fully trusted. */
const MAX_JWKS_BYTES = 1024 * 1024;

/** Retries before the first successful fetch: from this delay, doubled each time, up to the cap. */
const START_RETRY_MIN_MS = 500;
const START_RETRY_MAX_MS = 30_000;

export interface RemoteKeyResolverOptions {
  /** The issuer these keys belong to; names the source in status messages and metrics. */
  readonly issuer: string;
  readonly source: Extract<KeySource, { kind: 'jwks_uri' }>;
  /** Algorithms to import keys for (the issuer's allow-list). */
  readonly algorithms: readonly string[];
  /** Custom fetch (tests, proxies). Default: the global fetch. */
  readonly fetch?: FetchLike;
  /** Clock in epoch milliseconds, for the unknown-kid rate limit. Default: Date.now. */
  readonly now?: () => number;
  /** Called once per completed fetch (not for one cut short by stop()). */
  readonly onFetch?: (detail: JwksFetchDetail) => void;
  /** Start-up retry delay jitter source. Default: Math.random. */
  readonly random?: () => number;
}

/**
 * A key resolver backed by a JWKS URL.
 *
 * - The last good key set is kept when a refresh fails, so an IdP outage does not stop verification.
 * - Every fetch has a deadline that always fires (`fetchWithDeadline`): a hanging endpoint holds
 *   a lookup for at most `timeoutMs`, and the single in-flight fetch is freed by it.
 * - Fetches triggered by unknown `kid`s share one in-flight request and are rate-limited by a
 *   token bucket (`refetchPerMinute`, bursts up to that many), so a flood of made-up kids cannot
 *   turn the sidecar into an amplifier, while a real rotation after a few bogus kids still gets
 *   its fetch.
 * - Until the first successful fetch, start-up retries on its own (0.5 s doubling to 30 s, with
 *   jitter); lookups answer `jwks_unavailable` and status is NOT_READY until then, WARN while the
 *   last refresh failed.
 */
export function createRemoteKeyResolver(options: RemoteKeyResolverOptions): KeyResolver {
  const { issuer, source, algorithms } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const onFetch = options.onFetch ?? (() => {});
  const refreshMs = source.refreshSeconds * 1000;
  const refetches = createTokenBucket(source.refetchPerMinute, now);

  let keys: KeySet | undefined;
  let lastError: string | undefined;
  let inflight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopping = new AbortController();

  function refresh(): Promise<void> {
    if (inflight !== undefined) return inflight;
    inflight = load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  async function load(): Promise<void> {
    try {
      const previous = keys;
      keys = await fetchKeySet();
      lastError = undefined;
      onFetch({ result: 'ok', keys: keys.size, changed: !sameKids(previous, keys) });
    } catch (error) {
      if (stopping.signal.aborted) return;
      lastError = describe(error, source.timeoutMs);
      onFetch({ result: 'error', error: lastError, hasKeys: keys !== undefined });
    }
  }

  function fetchKeySet(): Promise<KeySet> {
    return fetchWithDeadline(
      source.uri,
      { headers: { accept: 'application/jwk-set+json, application/json' } },
      {
        timeoutMs: source.timeoutMs,
        signal: stopping.signal,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      },
      async (response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const text = await readTextLimited(response, MAX_JWKS_BYTES);
        if (text === undefined) throw new Error(`response larger than ${MAX_JWKS_BYTES} bytes`);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new Error('response is not JSON');
        }
        const set = await importKeySet(json, algorithms);
        // An empty set is far more likely a broken endpoint than a real rotation to zero keys:
        // keeping the previous keys is the safer reading.
        if (set.size === 0) throw new Error('no usable signing keys for the allowed algorithms');
        return set;
      },
    );
  }

  /** Until keys arrive once, tries again with a growing delay; the background refresh is too slow for that. */
  function retryUntilLoaded(attempt: number): void {
    if (keys !== undefined || stopping.signal.aborted) return;
    const base = Math.min(START_RETRY_MAX_MS, START_RETRY_MIN_MS * 2 ** attempt);
    // ±25 % jitter, so sidecars restarted together do not knock on the issuer in step.
    const delay = Math.min(START_RETRY_MAX_MS, base * (0.75 + random() * 0.5));
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void refresh().then(() => retryUntilLoaded(attempt + 1));
    }, delay);
    retryTimer.unref();
  }

  function lookup(query: KeyQuery): KeyLookup {
    if (keys === undefined) return tokenFailure('jwks_unavailable');
    const key = keys.find(query.kid, query.alg);
    return key === undefined ? tokenFailure('key_not_found') : { ok: true, key };
  }

  return {
    resolve(query) {
      if (keys !== undefined) {
        const key = keys.find(query.kid, query.alg);
        if (key !== undefined) return { ok: true, key };
        // A known kid with another algorithm will not be fixed by a refetch.
        if (query.kid !== undefined && keys.hasKid(query.kid)) {
          return tokenFailure('key_not_found');
        }
      }
      if (inflight !== undefined) return inflight.then(() => lookup(query));
      if (stopping.signal.aborted || !refetches.take()) return lookup(query);
      return refresh().then(() => lookup(query));
    },

    async start() {
      if (stopping.signal.aborted) stopping = new AbortController();
      await refresh();
      if (keys === undefined && retryTimer === undefined) retryUntilLoaded(0);
      if (timer === undefined && refreshMs > 0) {
        timer = setInterval(() => void refresh(), refreshMs);
        // Background refresh must never keep the process alive on its own.
        timer.unref();
      }
    },

    async stop() {
      if (timer !== undefined) clearInterval(timer);
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      timer = undefined;
      retryTimer = undefined;
      stopping.abort(new Error('stopping'));
      await inflight;
    },

    status(): ComponentStatus {
      if (keys === undefined) {
        return {
          state: 'NOT_READY',
          message:
            lastError === undefined
              ? `JWKS for ${issuer} not fetched yet`
              : `JWKS for ${issuer} never loaded: ${lastError}`,
        };
      }
      if (lastError !== undefined) {
        return {
          state: 'WARN',
          message: `JWKS refresh for ${issuer} failed (${lastError}); serving the last good ${keys.size} key(s)`,
        };
      }
      return { state: 'OK', message: `${keys.size} key(s) loaded` };
    },
  };
}

function sameKids(a: KeySet | undefined, b: KeySet): boolean {
  if (a === undefined || a.size !== b.size) return false;
  const kids = new Set(a.kids());
  const next = b.kids();
  return next.length === kids.size && next.every((kid) => kids.has(kid));
}

/** A short, secret-free reason for status messages (no URL: it may carry credentials). */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    if (typeof cause?.code === 'string') return `${error.message} (${cause.code})`;
    if (typeof cause?.message === 'string' && cause.message !== '') {
      return `${error.message} (${cause.message})`;
    }
    return error.message;
  }
  return String(error);
}
