// The `revocation:` config section: which store keeps revocations, and how long entries must live.
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import type { Section } from './reader.js';

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

const DEFAULT_KEY_PREFIX = 'mandate:revocations:';

/** Reads `revocation:`; relative paths resolve with `at`, the default snapshot lives in `stateDir`. */
export function readRevocationSection(
  s: Section,
  at: (p: string) => string,
  stateDir: string,
): RevocationConfig {
  s.only([
    'store',
    'path',
    'grant_claim',
    'max_token_lifetime_seconds',
    'clock_skew_seconds',
    'sweep_interval_seconds',
    'body_limit_bytes',
    'redis',
  ]);
  const driver = s.oneOf('store', ['memory', 'redis'] as const, 'memory');
  // Checked even with store: memory, so a typo is an error; MANDATE_REDIS_URL alone changes nothing.
  const redis = s
    .section('redis')
    .only([
      'url',
      'key_prefix',
      'connect_timeout_ms',
      'unavailable_at_start',
      'resync_interval_seconds',
      'retry_max_delay_ms',
    ]);
  let store: RevocationStoreConfig = { driver: 'memory' };
  if (driver === 'redis') {
    const url = redis.string('url');
    if (!/^rediss?:\/\/[^/]/.test(url)) {
      throw new ConfigError(redis.key('url'), 'must be a redis:// or rediss:// URL');
    }
    store = {
      driver,
      url,
      keyPrefix: redis.string('key_prefix', DEFAULT_KEY_PREFIX),
      connectTimeoutMs: redis.integer('connect_timeout_ms', 2000, 50, 60_000),
      unavailableAtStart: redis.oneOf(
        'unavailable_at_start',
        ['degraded', 'not_ready'] as const,
        'not_ready',
      ),
      resyncIntervalSeconds: redis.integer('resync_interval_seconds', 300, 0, 86_400),
      retryMaxDelayMs: redis.integer('retry_max_delay_ms', 5000, 100, 300_000),
    };
  }
  return {
    store,
    path: s.has('path') ? at(s.string('path')) : resolve(stateDir, 'revocations.json'),
    grantClaim: s.string('grant_claim', 'grant_id'),
    maxTokenLifetimeSeconds: s.integer('max_token_lifetime_seconds', 86_400, 60, 31_536_000),
    clockSkewSeconds: s.integer('clock_skew_seconds', 60, 0, 3600),
    sweepIntervalSeconds: s.integer('sweep_interval_seconds', 60, 1, 86_400),
    bodyLimitBytes: s.integer('body_limit_bytes', 8192, 1024, 1_048_576),
  };
}
