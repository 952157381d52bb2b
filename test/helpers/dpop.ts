// Plays a DPoP client in tests: a fresh ES256 key, its thumbprint for the token's cnf.jkt, and proofs by it.
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface DpopClient {
  /** The key's SHA-256 JWK thumbprint: the bound token's `cnf.jkt`. */
  readonly jkt: string;
  /** A fresh proof (new jti, iat now) for this access token, method and URL. */
  proof(accessToken: string, htm: string, htu: string): Promise<string>;
}

export async function createDpopClient(): Promise<DpopClient> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    proof(accessToken, htm, htu) {
      const ath = createHash('sha256').update(accessToken).digest('base64url');
      return new SignJWT({ htm, htu, jti: randomUUID(), ath })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .setIssuedAt()
        .sign(privateKey);
    },
  };
}
