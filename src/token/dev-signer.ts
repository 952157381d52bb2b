// The local dev issuer: one ES256 key pair kept in the state folder, and a minter of RFC 9068 access tokens.
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';

/** File name of the persisted private key inside the state folder. */
export const DEV_SIGNING_KEY_FILE = 'dev-signing-key.json';

export interface MintOptions {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly sub: string;
  /** Written to `tenantClaim`; omitted when undefined (to try tenant-less tokens). */
  readonly tenant?: string;
  /** Space-separated string or a list of scopes. */
  readonly scope: string | readonly string[];
  readonly clientId: string;
  /** Lifetime, seconds (`exp` = `iat` + ttlSeconds). */
  readonly ttlSeconds: number;
  /** Delegation chain, outermost (current actor) first; becomes nested RFC 8693 `act` claims. */
  readonly act?: readonly string[];
  /** Claim holding the tenant. Default `tenant`. */
  readonly tenantClaim?: string;
  /** More claims. The registered ones above always win, so `extra` cannot forge iss/exp/aud. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export interface DevSigner {
  /** JWK thumbprint (RFC 7638) of the public key. */
  readonly kid: string;
  /** The public key as a JWK Set, for a `jwks_file` issuer. */
  readonly publicJwks: { readonly keys: readonly JWK[] };
  /** Signs an access token: header `{ alg: ES256, kid, typ: at+jwt }`. */
  mint(options: MintOptions): Promise<string>;
}

interface StoredKey {
  readonly kid: string;
  readonly privateJwk: JWK;
}

/**
 * Loads the dev signing key from `<stateDir>/dev-signing-key.json`, creating the folder (0700) and
 * the key file (0600) on first use. Two processes starting at once agree on one key: the file is
 * linked into place exclusively and the loser reads the winner's key. Throws an error naming the path when
 * the file exists but is not a key this function wrote.
 *
 * For local development only: the private key sits on disk in the clear.
 */
export async function loadOrCreateDevSigner(
  stateDir: string,
  options: { readonly now?: () => number } = {},
): Promise<DevSigner> {
  const path = join(stateDir, DEV_SIGNING_KEY_FILE);
  const stored = (await readStoredKey(path)) ?? (await createStoredKey(stateDir, path));
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(stored.privateJwk, 'ES256')) as CryptoKey;
  } catch (error) {
    throw new Error(`dev signing key ${path} cannot be imported`, { cause: error });
  }
  const { kid } = stored;
  const { kty, crv, x, y } = stored.privateJwk;
  const publicJwk: JWK = { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' };
  const now = options.now ?? Date.now;

  return {
    kid,
    publicJwks: Object.freeze({ keys: Object.freeze([Object.freeze(publicJwk)]) }),
    async mint(opts) {
      const iat = Math.floor(now() / 1000);
      const claims: Record<string, unknown> = {
        ...opts.extra,
        iss: opts.issuer,
        sub: opts.sub,
        aud: typeof opts.audience === 'string' ? opts.audience : [...opts.audience],
        iat,
        exp: iat + opts.ttlSeconds,
        jti: randomUUID(),
        client_id: opts.clientId,
        scope: typeof opts.scope === 'string' ? opts.scope : opts.scope.join(' '),
      };
      if (opts.tenant !== undefined) claims[opts.tenantClaim ?? 'tenant'] = opts.tenant;
      const act = actClaim(opts.act ?? []);
      if (act !== undefined) claims.act = act;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
        .sign(privateKey);
    },
  };
}

/** ['a', 'b'] → { sub: 'a', act: { sub: 'b' } }: the current actor outermost, as RFC 8693 §4.1 nests them. */
function actClaim(chain: readonly string[]): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    act = act === undefined ? { sub: chain[i] } : { sub: chain[i], act };
  }
  return act;
}

async function readStoredKey(path: string): Promise<StoredKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read dev signing key ${path}`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredKey>;
    const jwk = parsed.privateJwk;
    if (
      typeof parsed.kid === 'string' &&
      jwk?.kty === 'EC' &&
      jwk.crv === 'P-256' &&
      typeof jwk.d === 'string'
    ) {
      return { kid: parsed.kid, privateJwk: jwk };
    }
  } catch {
    // fall through to the error below
  }
  throw new Error(
    `dev signing key ${path} is not a valid key file; delete it to generate a new one`,
  );
}

async function createStoredKey(stateDir: string, path: string): Promise<StoredKey> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const stored: StoredKey = { kid, privateJwk: await exportJWK(privateKey) };
  // Write aside, then link into place: the link is atomic and exclusive, so a concurrent reader
  // never sees a half-written file and two starters never overwrite each other's key.
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await link(temporary, path);
    return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(`cannot write dev signing key ${path}`, { cause: error });
    }
    // Another process won the race: use its key so both sign with the same one.
    const winner = await readStoredKey(path);
    if (winner === undefined) throw new Error(`dev signing key ${path} vanished while starting`);
    return winner;
  } finally {
    await rm(temporary, { force: true });
  }
}
