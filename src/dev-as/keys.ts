// Signing keys of the development authorization server: generated once, optionally kept in the state folder.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { randomUUID } from 'node:crypto';

const KEYS_FILE = 'dev-as-keys.json';

/** RS256 (oidc-provider signs ID tokens with it by default) and ES256 (access tokens). */
async function generateSigningKeys(): Promise<JWK[]> {
  const keys: JWK[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), kid: randomUUID(), alg, use: 'sig' });
  }
  return keys;
}

/** Loads the keys from `stateDir` (creating them the first time), or generates throwaway ones. */
export async function loadOrCreateSigningKeys(stateDir?: string): Promise<JWK[]> {
  if (stateDir === undefined) return generateSigningKeys();
  const path = join(stateDir, KEYS_FILE);
  try {
    const stored = JSON.parse(await readFile(path, 'utf8')) as { keys?: JWK[] };
    if (Array.isArray(stored.keys) && stored.keys.length > 0) return stored.keys;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`dev-as: cannot read ${path}: ${(err as Error).message}`);
    }
  }
  const keys = await generateSigningKeys();
  await mkdir(stateDir, { recursive: true });
  // Private keys: readable by the owner only.
  await writeFile(path, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  return keys;
}

/** JWK members that are private key material (RFC 7518 §6.2.2, §6.3.2). */
const PRIVATE_MEMBERS: ReadonlySet<string> = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** The public half of each key, as published at the JWKS endpoint. */
export function publicJwks(keys: readonly JWK[]): { keys: JWK[] } {
  return {
    keys: keys.map(
      (k) =>
        Object.fromEntries(Object.entries(k).filter(([name]) => !PRIVATE_MEMBERS.has(name))) as JWK,
    ),
  };
}
