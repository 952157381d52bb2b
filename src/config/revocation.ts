// Resolves the validated `revocation:` section: the store (Redis needs a redis:// URL) and the snapshot path.
import { resolve } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { ConfigError } from './errors.js';
import type { revocationSchema } from './schema/revocation.js';

/** Redis connection and failure behaviour of the shared store. */
export interface RedisRevocationStoreConfig {
  readonly driver: 'redis';
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). Required. The password is never logged. */
  readonly url: string;
  /** Prefix of every key and of the change channel; sidecars that share revocations share it. Default `mandate:revocations:`. */
  readonly keyPrefix: string;
  /** How long start-up waits for the first sync before serving the snapshot, milliseconds. Default 2000. */
  readonly connectTimeoutMs: number;
  /**
   * Readiness while Redis has not been reached since start: `not_ready` (default: /ready 503 until
   * the first sync; checks are still answered from the snapshot) or `degraded` (WARN, ready).
   */
  readonly unavailableAtStart: 'degraded' | 'not_ready';
  /** Full resync period while connected, a safety net under pub/sub, seconds. 0 disables. Default 300. */
  readonly resyncIntervalSeconds: number;
  /** Longest back-off between reconnect attempts, milliseconds. Default 5000. */
  readonly retryMaxDelayMs: number;
}

export type RevocationStoreConfig = { readonly driver: 'memory' } | RedisRevocationStoreConfig;

export interface RevocationConfig {
  readonly store: RevocationStoreConfig;
  /**
   * Snapshot file: the memory store's durable copy, or the Redis store's last synced state (served
   * when Redis is down at start). Default `<dev.state_dir>/revocations.json`.
   */
  readonly path: string;
  /** Claim holding the grant (consent) id that `grant` revocations match. Default `grant_id`. */
  readonly grantClaim: string;
  /**
   * Longest lifetime (`exp - iat`) of any accepted token, seconds, for issuers without their own
   * `issuers[].max_token_lifetime_seconds`. Entries live this long past their cut-off; a token
   * living longer could outlive its revocation. Default 86400.
   */
  readonly maxTokenLifetimeSeconds: number;
  /** How far in the future an `issued_before` may lie (clock skew between admin and sidecar), seconds. Default 60. */
  readonly clockSkewSeconds: number;
  /** How often expired entries are dropped, seconds. Default 60. */
  readonly sweepIntervalSeconds: number;
  /** Largest POST /v1/revocations body, bytes; larger get 413. Default 8192. */
  readonly bodyLimitBytes: number;
}

type RevocationFile = Static<typeof revocationSchema>;

/** Resolves `revocation:`; relative paths resolve with `at`, the default snapshot lives in `stateDir`. */
export function resolveRevocation(
  raw: RevocationFile,
  at: (p: string) => string,
  stateDir: string,
): RevocationConfig {
  let store: RevocationStoreConfig = { driver: 'memory' };
  if (raw.store === 'redis') {
    const redis = raw.redis;
    // Checked only with the redis store, so MANDATE_REDIS_URL alone changes nothing.
    if (redis.url === undefined) throw new ConfigError('revocation.redis.url', 'is required');
    if (!/^rediss?:\/\/[^/]/.test(redis.url)) {
      throw new ConfigError('revocation.redis.url', 'must be a redis:// or rediss:// URL');
    }
    store = {
      driver: 'redis',
      url: redis.url,
      keyPrefix: redis.key_prefix,
      connectTimeoutMs: redis.connect_timeout_ms,
      unavailableAtStart: redis.unavailable_at_start,
      resyncIntervalSeconds: redis.resync_interval_seconds,
      retryMaxDelayMs: redis.retry_max_delay_ms,
    };
  }
  return {
    store,
    path: raw.path !== undefined ? at(raw.path) : resolve(stateDir, 'revocations.json'),
    grantClaim: raw.grant_claim,
    maxTokenLifetimeSeconds: raw.max_token_lifetime_seconds,
    clockSkewSeconds: raw.clock_skew_seconds,
    sweepIntervalSeconds: raw.sweep_interval_seconds,
    bodyLimitBytes: raw.body_limit_bytes,
  };
}
