// The exchanged-token cache as an exchange uses it: the key of a request, and the conditions under which an entry may be served.
import { createHash } from 'node:crypto';
import type { TokenVerifier } from '../token/types.js';
import type { Trail } from './exchange-audit.js';
import {
  exchangeCacheKey,
  type CachedExchange,
  type ExchangeCache,
  type SubjectInfo,
} from './exchange-cache.js';
import type { ExchangeRequest } from './types.js';

export interface CacheLookupOptions {
  readonly cache: ExchangeCache;
  readonly verifier: TokenVerifier;
  readonly actorName: string;
  /** True when a revocation now matches this subject. */
  readonly isRevoked?: (subject: SubjectInfo) => boolean;
}

export interface CacheLookup {
  /** The cache (and single-flight) key: the subject token's hash, audience, resource, scopes, actor. */
  keyOf(subjectToken: string, request: ExchangeRequest, scopes: readonly string[]): string;
  /**
   * The cache-hit path: the subject token still verifies (the verified-token cache: expiry is
   * checked), the tenant guard holds and no revocation matches. The policy is not run again: it
   * decided this exact input (same token, audience, resource, scopes, actor) when the entry was
   * made, and that decision travels with the entry. Undefined sends the caller down the full path,
   * always for a DPoP-scheme or DPoP-bound token: its proof proves one request, and only the gate's
   * decision checks it.
   */
  hit(
    subjectToken: string,
    key: string,
    request: ExchangeRequest,
    trail: Trail,
  ): Promise<CachedExchange | undefined>;
}

/** Builds the lookup over `cache`; a revoked subject's entries are dropped when found. */
export function createCacheLookup(options: CacheLookupOptions): CacheLookup {
  const { cache, verifier, actorName } = options;
  return {
    keyOf(subjectToken, request, scopes) {
      return exchangeCacheKey(
        createHash('sha256').update(subjectToken).digest('hex'),
        request.audience,
        request.resource,
        scopes,
        actorName,
      );
    },
    async hit(subjectToken, key, request, trail) {
      const verified = await verifier.verify(subjectToken);
      if (!verified.ok) return undefined;
      if (request.dpop?.scheme === 'dpop' || verified.dpopJkt !== undefined) return undefined;
      const found = cache.get(key);
      if (found === undefined) return undefined;
      if (request.tenant !== undefined && request.tenant !== found.subject.tenant) return undefined;
      if (options.isRevoked?.(found.subject)) {
        cache.dropBySubjectToken(found.subject.tokenHash);
        return undefined;
      }
      trail.subjectTokenHash = verified.tokenHash;
      return found;
    },
  };
}
