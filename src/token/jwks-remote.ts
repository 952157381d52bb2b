// Keys from a remote JWKS endpoint: fetched at start, refreshed in the background and on an unknown kid.
import type { KeySource } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { tokenFailure } from './errors.js';
import type { KeyLookup, KeyQuery, KeyResolver } from './key-resolver.js';
import { importKeySet, type KeySet } from './key-set.js';

/** A JWKS larger than this is refused: real sets are a few KB, and the endpoint is not fully trusted. */
const MAX_JWKS_BYTES = 1024 * 1024;

export interface RemoteKeyResolverOptions {
  /** The issuer these keys belong to; names the source in status messages and metrics. */
  readonly issuer: string;
  readonly source: Extract<KeySource, { kind: 'jwks_uri' }>;
  /** Algorithms to import keys for (the issuer's allow-list). */
  readonly algorithms: readonly string[];
  /** Custom fetch (tests, proxies). Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Clock in epoch milliseconds, for the unknown-kid cool-down. Default: Date.now. */
  readonly now?: () => number;
  /** Called once per completed fetch. */
  readonly onFetch?: (result: 'ok' | 'error') => void;
}

/**
 * A key resolver backed by a JWKS URL.
 *
 * - The last good key set is kept when a refresh fails, so an IdP outage does not stop verification.
 * - Fetches triggered by unknown `kid`s share one in-flight request and happen at most once per
 *   `cooldownSeconds`, so a flood of made-up kids cannot turn the sidecar into an amplifier.
 * - Before the first successful fetch, lookups answer `jwks_unavailable` (retrying on the same
 *   cool-down); status is NOT_READY until then, and WARN while the last refresh failed.
 */
export function createRemoteKeyResolver(options: RemoteKeyResolverOptions): KeyResolver {
  const { issuer, source, algorithms } = options;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const onFetch = options.onFetch ?? (() => {});
  const cooldownMs = source.cooldownSeconds * 1000;
  const refreshMs = source.refreshSeconds * 1000;

  let keys: KeySet | undefined;
  let lastError: string | undefined;
  let lastAttemptMs = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = new AbortController();

  function refresh(): Promise<void> {
    if (inflight !== undefined) return inflight;
    lastAttemptMs = now();
    inflight = load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  async function load(): Promise<void> {
    try {
      keys = await fetchKeySet();
      lastError = undefined;
      onFetch('ok');
    } catch (error) {
      if (stopping.signal.aborted) return;
      lastError = describe(error, source.timeoutMs);
      onFetch('error');
    }
  }

  async function fetchKeySet(): Promise<KeySet> {
    const signal = AbortSignal.any([AbortSignal.timeout(source.timeoutMs), stopping.signal]);
    const response = await fetchImpl(source.uri, {
      signal,
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const text = await readLimited(response, MAX_JWKS_BYTES);
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
      if (stopping.signal.aborted || now() - lastAttemptMs < cooldownMs) return lookup(query);
      return refresh().then(() => lookup(query));
    },

    async start() {
      if (stopping.signal.aborted) stopping = new AbortController();
      await refresh();
      if (timer === undefined && refreshMs > 0) {
        timer = setInterval(() => void refresh(), refreshMs);
        // Background refresh must never keep the process alive on its own.
        timer.unref();
      }
    },

    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      stopping.abort();
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

/** Reads a body, refusing it once it grows past `maxBytes` instead of buffering it whole first. */
async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`response larger than ${maxBytes} bytes`);
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`response larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short, secret-free reason for status messages (no URL: it may carry credentials). */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') return `${error.message} (${code})`;
    return error.message;
  }
  return String(error);
}
