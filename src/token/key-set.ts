// Turns a JWK Set into CryptoKeys imported once per (kid, alg), so verification never imports a key.
import { importJWK, type CryptoKey, type JWK } from 'jose';

/** Keys of one JWK Set, ready for verification. Immutable: a refresh builds a new one. */
export interface KeySet {
  /**
   * The key for `alg` and `kid`. A token without `kid` gets a key only when exactly one key in the
   * set can verify `alg`, so a kid-less token can never be checked against a key it did not name.
   */
  find(kid: string | undefined, alg: string): CryptoKey | undefined;
  /** True when some usable key carries this `kid` (for any algorithm). */
  hasKid(kid: string): boolean;
  /** The `kid`s of the usable keys (kid-less keys are not listed), for noticing a rotation. */
  kids(): readonly string[];
  /** Number of JWKs that were imported. */
  readonly size: number;
  /** Number of JWKs that were skipped (wrong `use`, private, unsupported, too weak, failed import). */
  readonly skipped: number;
}

/** Algorithms a JWK of each family can verify; `oct` is absent on purpose (HMAC keys never come from a JWKS). */
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGORITHMS: Readonly<Record<string, string>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
};
const OKP_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  Ed25519: ['EdDSA', 'Ed25519'],
};

/** jose refuses RSA keys under 2048 bits at verify time; skipping them here keeps that a load-time matter. */
const MIN_RSA_BITS = 2048;

/** JWK members that only private keys have: a JWKS that publishes them is misconfigured. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv'];

/**
 * Imports every usable signing key of `jwks` for each of `algorithms` it can serve.
 *
 * Throws an `Error` when `jwks` is not a JWK Set at all; individual keys that cannot be used are
 * skipped and counted, so one odd key never takes the issuer down.
 */
export async function importKeySet(jwks: unknown, algorithms: readonly string[]): Promise<KeySet> {
  if (!isObject(jwks) || !Array.isArray(jwks.keys)) {
    throw new Error('not a JWK Set: expected an object with a "keys" array');
  }
  const allowed = new Set(algorithms);
  const byKid = new Map<string, Map<string, CryptoKey>>();
  // Every imported key by algorithm, to serve kid-less tokens only when the choice is unambiguous.
  const byAlg = new Map<string, CryptoKey[]>();
  let size = 0;
  let skipped = 0;

  for (const jwk of jwks.keys as unknown[]) {
    const imported = await importOne(jwk, allowed);
    if (imported === undefined) {
      skipped++;
      continue;
    }
    const kid = (jwk as JWK).kid;
    if (kid !== undefined) {
      const existing = byKid.get(kid);
      // A repeated kid is ambiguous; the first key wins and the repeat is counted as skipped.
      if (existing !== undefined) {
        skipped++;
        continue;
      }
      byKid.set(kid, imported);
    }
    for (const [alg, key] of imported) {
      const list = byAlg.get(alg);
      if (list === undefined) byAlg.set(alg, [key]);
      else list.push(key);
    }
    size++;
  }

  const onlyKeyFor = new Map<string, CryptoKey>();
  for (const [alg, list] of byAlg) if (list.length === 1) onlyKeyFor.set(alg, list[0]!);

  return {
    find(kid, alg) {
      return kid === undefined ? onlyKeyFor.get(alg) : byKid.get(kid)?.get(alg);
    },
    hasKid(kid) {
      return byKid.has(kid);
    },
    kids() {
      return [...byKid.keys()];
    },
    size,
    skipped,
  };
}

/** Imports one JWK for each allowed algorithm it fits; undefined when it fits none or is unusable. */
async function importOne(
  jwk: unknown,
  allowed: ReadonlySet<string>,
): Promise<Map<string, CryptoKey> | undefined> {
  if (!isObject(jwk) || typeof jwk.kty !== 'string') return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return undefined;
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return undefined;
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) return undefined;

  let candidates = algorithmsFor(jwk).filter((alg) => allowed.has(alg));
  if (jwk.alg !== undefined) candidates = candidates.filter((alg) => alg === jwk.alg);
  if (candidates.length === 0) return undefined;

  // Import from the public members only: `use`/`key_ops`/`alg` were checked above, and jose
  // would otherwise refuse a JWK whose `alg` differs from the one asked for.
  const material = publicMaterial(jwk);
  const keys = new Map<string, CryptoKey>();
  for (const alg of candidates) {
    try {
      const key = await importJWK(material, alg);
      if (key instanceof Uint8Array) continue;
      if (jwk.kty === 'RSA' && rsaBits(key) < MIN_RSA_BITS) return undefined;
      keys.set(alg, key);
    } catch {
      // Malformed key material or an algorithm this runtime lacks: skip, keep the rest of the set.
    }
  }
  return keys.size > 0 ? keys : undefined;
}

function algorithmsFor(jwk: Record<string, unknown>): readonly string[] {
  switch (jwk.kty) {
    case 'RSA':
      return RSA_ALGORITHMS;
    case 'EC': {
      const alg = typeof jwk.crv === 'string' ? EC_ALGORITHMS[jwk.crv] : undefined;
      return alg === undefined ? [] : [alg];
    }
    case 'OKP':
      return (typeof jwk.crv === 'string' ? OKP_ALGORITHMS[jwk.crv] : undefined) ?? [];
    default:
      return [];
  }
}

function publicMaterial(jwk: Record<string, unknown>): JWK {
  const { kty, n, e, crv, x, y } = jwk;
  const material: Record<string, unknown> = { kty };
  if (n !== undefined) material.n = n;
  if (e !== undefined) material.e = e;
  if (crv !== undefined) material.crv = crv;
  if (x !== undefined) material.x = x;
  if (y !== undefined) material.y = y;
  return material as JWK;
}

function rsaBits(key: CryptoKey): number {
  const { modulusLength } = key.algorithm as { modulusLength?: unknown };
  return typeof modulusLength === 'number' ? modulusLength : 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
