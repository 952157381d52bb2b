// Client authentication at the token endpoint: client_secret_basic, client_secret_post, or private_key_jwt signed with jose.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SignJWT, importJWK, importPKCS8, type CryptoKey, type JWK, type KeyObject } from 'jose';
import type { ExchangeClientAuth } from '../config/exchange.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Client assertions live just long enough to be used once. */
const ASSERTION_TTL_SECONDS = 60;

export interface ClientAuthenticator {
  /** Adds the client's credentials to one token request. `audience` is what a client assertion is addressed to. */
  apply(form: URLSearchParams, headers: Record<string, string>, audience: string): Promise<void>;
}

/**
 * RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded,
 * so a secret with `:` or non-ASCII characters survives.
 */
function basicCredentials(clientId: string, secret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** Loads the private key named in config; a missing or unusable key is a start-up error, not a per-request one. */
async function loadSigningKey(
  path: string,
  alg: string,
): Promise<{ key: CryptoKey | KeyObject | Uint8Array; kid?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TypeError(
      `exchange.private_key_file: cannot read ${path}: ${(err as Error).message}`,
    );
  }
  try {
    if (text.trimStart().startsWith('{')) {
      const jwk = JSON.parse(text) as JWK;
      if (typeof jwk.d !== 'string') throw new Error('the JWK has no private part');
      return { key: await importJWK(jwk, alg), ...(jwk.kid ? { kid: jwk.kid } : {}) };
    }
    return { key: await importPKCS8(text, alg) };
  } catch (err) {
    throw new TypeError(
      `exchange.private_key_file: ${path} is not a private ${alg} key (JWK or PKCS#8 PEM): ${(err as Error).message}`,
    );
  }
}

export async function createClientAuthenticator(
  clientId: string,
  auth: ExchangeClientAuth,
): Promise<ClientAuthenticator> {
  switch (auth.method) {
    case 'client_secret_basic': {
      const header = basicCredentials(clientId, auth.secret);
      return {
        async apply(_form, headers) {
          headers['authorization'] = header;
        },
      };
    }
    case 'client_secret_post':
      return {
        async apply(form) {
          form.set('client_id', clientId);
          form.set('client_secret', auth.secret);
        },
      };
    case 'private_key_jwt': {
      const { key, kid: jwkKid } = await loadSigningKey(auth.keyPath, auth.alg);
      const kid = auth.kid ?? jwkKid;
      return {
        async apply(form, _headers, audience) {
          const now = Math.floor(Date.now() / 1000);
          // RFC 7523 §3: iss and sub are the client, aud the AS, and a fresh jti so it cannot be replayed.
          const assertion = await new SignJWT({})
            .setProtectedHeader({ alg: auth.alg, typ: 'JWT', ...(kid ? { kid } : {}) })
            .setIssuer(clientId)
            .setSubject(clientId)
            .setAudience(audience)
            .setJti(randomUUID())
            .setIssuedAt(now)
            .setExpirationTime(now + ASSERTION_TTL_SECONDS)
            .sign(key);
          form.set('client_id', clientId);
          form.set('client_assertion_type', ASSERTION_TYPE);
          form.set('client_assertion', assertion);
        },
      };
    }
  }
}
