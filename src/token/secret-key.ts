// The HMAC key of an issuer configured with a shared secret (HS256/384/512 only).
import type { CryptoKey } from 'jose';
import type { KeySource } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { KeyLookup, KeyResolver } from './key-resolver.js';
import { tokenFailure } from './errors.js';

const HMAC_HASH: Readonly<Record<string, string>> = {
  HS256: 'SHA-256',
  HS384: 'SHA-384',
  HS512: 'SHA-512',
};

export interface SecretKeyResolverOptions {
  readonly source: Extract<KeySource, { kind: 'secret' }>;
  /** The issuer's allow-list; only its HS* members get a key. */
  readonly algorithms: readonly string[];
}

/**
 * A key resolver for a shared secret (its UTF-8 bytes are the HMAC key). The secret is imported
 * once per allowed HS algorithm as a non-extractable CryptoKey; `kid` is ignored, as there is
 * exactly one key.
 */
export function createSecretKeyResolver(options: SecretKeyResolverOptions): KeyResolver {
  const bytes = new TextEncoder().encode(options.source.secret);
  const algorithms = options.algorithms.filter((alg) => alg in HMAC_HASH);
  let keys: Map<string, CryptoKey> | undefined;
  let loading: Promise<void> | undefined;

  function load(): Promise<void> {
    loading ??= (async () => {
      const imported = new Map<string, CryptoKey>();
      for (const alg of algorithms) {
        const key = await crypto.subtle.importKey(
          'raw',
          bytes,
          { name: 'HMAC', hash: HMAC_HASH[alg]! },
          false,
          ['verify'],
        );
        imported.set(alg, key);
      }
      keys = imported;
    })();
    return loading;
  }

  function lookup(alg: string): KeyLookup {
    const key = keys?.get(alg);
    return key === undefined ? tokenFailure('key_not_found') : { ok: true, key };
  }

  return {
    resolve(query) {
      return keys === undefined ? load().then(() => lookup(query.alg)) : lookup(query.alg);
    },
    start: load,
    async stop() {},
    status(): ComponentStatus {
      return keys === undefined
        ? { state: 'NOT_READY', message: 'shared secret not imported yet' }
        : { state: 'OK', message: 'shared secret loaded' };
    },
  };
}
