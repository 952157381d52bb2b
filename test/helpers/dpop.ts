// Plays a DPoP client in tests: a fresh ES256 key, its thumbprint for the token's cnf.jkt, and proofs by it.
import { createHash, randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';

/** Overrides for a proof's members, to make one wrong on purpose. */
export interface ProofOverrides {
  /** Seconds since the epoch; default now. */
  readonly iat?: number;
  readonly jti?: string;
  /** Default: the hash of the access token. */
  readonly ath?: string;
}

export interface DpopClient {
  /** The key's SHA-256 JWK thumbprint: the bound token's `cnf.jkt`. */
  readonly jkt: string;
  /** The public key as the proofs carry it in their header. */
  readonly jwk: JWK;
  readonly privateKey: CryptoKey;
  /** A fresh proof (new jti, iat now) for this access token, method and URL. */
  proof(accessToken: string, htm: string, htu: string, over?: ProofOverrides): Promise<string>;
}

/** base64url SHA-256 of an access token: a proof's `ath`. */
export function athOf(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

export async function createDpopClient(): Promise<DpopClient> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    jwk,
    privateKey,
    proof(accessToken, htm, htu, over = {}) {
      return new SignJWT({
        htm,
        htu,
        jti: over.jti ?? randomUUID(),
        ath: over.ath ?? athOf(accessToken),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .setIssuedAt(over.iat ?? Math.floor(Date.now() / 1000))
        .sign(privateKey);
    },
  };
}
