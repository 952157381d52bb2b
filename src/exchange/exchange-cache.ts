// Exchanged tokens by (subject token, audience, resource, scopes, actor), served only until shortly before they expire.
import { LRUCache } from 'lru-cache';
import type { Decision } from '../core/decision.js';

/** What is known about the subject token behind a cached exchange, so a revocation can find it. */
export interface SubjectInfo {
  /** Fingerprint of the subject token (first 16 hex chars of SHA-256, as `token_hash` in audit). */
  readonly tokenHash: string;
  readonly jti?: string;
  readonly sub?: string;
  readonly tenant?: string;
  readonly clientId?: string;
  /** The subject token's `act` chain, outermost first. */
  readonly act: readonly string[];
  readonly issuer?: string;
  /** The subject token's verified claims (shared with the verified-token cache, not copied). */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface CachedExchange {
  readonly accessToken: string;
  /** Fingerprint of the exchanged token, for audit. */
  readonly tokenHash: string;
  readonly tokenType: string;
  readonly issuedTokenType: string;
  readonly scope?: string;
  /** When the exchanged token expires, epoch milliseconds. */
  readonly expiresAtMs: number;
  readonly subject: SubjectInfo;
  readonly audience: string;
  /** The decision that allowed the exchange; a cache hit answers with it (same input, same policy). */
  readonly decision: Decision;
}

export interface ExchangeCacheOptions {
  /** Capacity in entries; 0 disables the cache. */
  readonly maxEntries: number;
  /** An entry is not served once fewer than this many seconds of its token's life remain. */
  readonly skewSeconds: number;
  /** Clock seam, epoch ms. Default Date.now. */
  readonly now?: () => number;
}

export interface ExchangeCache {
  /** The entry if it has more than the skew left; an entry past that is dropped. */
  get(key: string): CachedExchange | undefined;
  /** Stores an entry unless its token would already be inside the skew. Returns whether it was stored. */
  set(key: string, entry: CachedExchange): boolean;
  /** Drops every exchange made with the subject token of this fingerprint; returns how many. */
  dropBySubjectToken(tokenHash: string): number;
  /** Drops every entry whose subject matches (a revocation by jti, sub, tenant, client...); returns how many. */
  invalidate(predicate: (subject: SubjectInfo, entry: CachedExchange) => boolean): number;
  clear(): void;
  size(): number;
}

/** The cache key: every part that changes what the AS would issue. NUL cannot occur in any part. */
export function exchangeCacheKey(
  subjectTokenSha256: string,
  audience: string,
  resource: string | undefined,
  scopes: readonly string[],
  actor: string,
): string {
  return `${subjectTokenSha256}\u0000${audience}\u0000${resource ?? ''}\u0000${scopes.join(' ')}\u0000${actor}`;
}

export function createExchangeCache(options: ExchangeCacheOptions): ExchangeCache {
  const now = options.now ?? Date.now;
  const skewMs = options.skewSeconds * 1000;
  if (options.maxEntries === 0) {
    return {
      get: () => undefined,
      set: () => false,
      dropBySubjectToken: () => 0,
      invalidate: () => 0,
      clear() {},
      size: () => 0,
    };
  }
  // Keys by subject token fingerprint, so a revocation drops its exchanges without a scan.
  const bySubject = new Map<string, Set<string>>();
  const lru = new LRUCache<string, CachedExchange>({
    max: options.maxEntries,
    dispose(entry, key) {
      const keys = bySubject.get(entry.subject.tokenHash);
      if (!keys) return;
      keys.delete(key);
      if (keys.size === 0) bySubject.delete(entry.subject.tokenHash);
    },
  });

  return {
    get(key) {
      const entry = lru.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAtMs - skewMs <= now()) {
        lru.delete(key);
        return undefined;
      }
      return entry;
    },
    set(key, entry) {
      if (entry.expiresAtMs - skewMs <= now()) return false;
      lru.set(key, entry);
      let keys = bySubject.get(entry.subject.tokenHash);
      if (!keys) bySubject.set(entry.subject.tokenHash, (keys = new Set()));
      keys.add(key);
      return true;
    },
    dropBySubjectToken(tokenHash) {
      const keys = bySubject.get(tokenHash);
      if (!keys) return 0;
      const list = [...keys];
      for (const key of list) lru.delete(key);
      return list.length;
    },
    invalidate(predicate) {
      const doomed: string[] = [];
      for (const [key, entry] of lru.entries()) {
        if (predicate(entry.subject, entry)) doomed.push(key);
      }
      for (const key of doomed) lru.delete(key);
      return doomed.length;
    },
    clear: () => lru.clear(),
    size: () => lru.size,
  };
}
