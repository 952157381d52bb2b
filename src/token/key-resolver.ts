// The small interface every key source (remote JWKS, JWKS file, shared secret) implements.
import type { CryptoKey } from 'jose';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { TokenFailure } from './errors.js';

/** The parts of a JOSE header a key source needs; already checked to be strings. */
export interface KeyQuery {
  readonly alg: string;
  readonly kid: string | undefined;
}

/** A key ready for `alg`, imported once when the key set was loaded. */
export interface FoundKey {
  readonly ok: true;
  readonly key: CryptoKey;
}

/** Why no key could be given: `key_not_found` or `jwks_unavailable`. */
export type KeyLookup = FoundKey | TokenFailure;

/**
 * One issuer's verification keys.
 *
 * `resolve` answers synchronously when the key is already known, so the hot path awaits nothing
 * extra; it returns a promise only when it has to (re)load keys.
 */
export interface KeyResolver {
  resolve(query: KeyQuery): KeyLookup | Promise<KeyLookup>;
  /** Loads keys. Rejects only for configuration mistakes (an unreadable file), never for a remote outage. */
  start(): Promise<void>;
  /** Stops background refreshes and aborts any fetch in flight. */
  stop(): Promise<void>;
  status(): ComponentStatus;
}
