// The jwks_file and secret key sources, through the verifier.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenFailure } from '../../src/token/errors.js';
import type { VerifyResult } from '../../src/token/types.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import {
  AUDIENCE,
  ISSUER,
  TOKEN_CONFIG,
  createTestKey,
  issuerConfig,
  signToken,
  type TestKey,
} from '../helpers/tokens.js';

let dir: string;
let key: TestKey;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mandate-keys-'));
  key = await createTestKey('RS256', 'file-key');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const codeOf = (r: VerifyResult) => (r.ok ? 'ok' : (r as TokenFailure).code);

function fileVerifier(path: string) {
  return createTokenVerifier({
    issuers: [issuerConfig({ kind: 'jwks_file', path })],
    token: TOKEN_CONFIG,
  });
}

describe('jwks_file', () => {
  it('verifies tokens with the keys of the file, and is OK once started', async () => {
    const path = join(dir, 'good.json');
    await writeFile(path, JSON.stringify({ keys: [key.jwk] }));
    const verifier = fileVerifier(path);
    expect(verifier.status().state).toBe('NOT_READY');
    await verifier.start();
    expect(verifier.status().state).toBe('OK');
    expect(codeOf(await verifier.verify(await signToken(key)))).toBe('ok');
    expect(codeOf(await verifier.verify(await signToken(key, { header: { kid: 'x' } })))).toBe(
      'key_not_found',
    );
  });

  it.each([
    ['missing', undefined, /cannot load JWKS file .*missing\.json: ENOENT/],
    ['invalid JSON', '{ nope', /cannot load JWKS file .*invalid JSON\.json: not valid JSON/],
    ['not a JWK Set', '{"kid":"x"}', /invalid JWKS file .*not a JWK Set\.json/],
    ['no usable key', '{"keys":[{"kty":"oct","k":"AA"}]}', /no usable signing key/],
  ])('rejects start for a %s file, naming the path', async (name, content, message) => {
    const path = join(dir, `${name}.json`);
    if (content !== undefined) await writeFile(path, content);
    await expect(fileVerifier(path).start()).rejects.toThrow(message);
  });

  it('names the path when the file cannot be read', async () => {
    // A directory in place of the file fails to read even for root, unlike a chmod 000 file.
    const path = join(dir, 'not-a-file.json');
    await mkdir(path);
    await expect(fileVerifier(path).start()).rejects.toThrow(/not-a-file\.json: EISDIR/);
  });
});

describe('secret', () => {
  const secret = 'a-shared-secret-that-is-at-least-32-bytes-long';
  const verifier = createTokenVerifier({
    issuers: [issuerConfig({ kind: 'secret', secret }, { algorithms: ['HS256', 'HS512'] })],
    token: TOKEN_CONFIG,
  });
  const hs = (alg: string, key: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: ISSUER,
      sub: 's',
      aud: AUDIENCE,
      iat: now,
      exp: now + 60,
      jti: 'j',
      client_id: 'c',
    })
      .setProtectedHeader({ alg, typ: 'at+jwt' })
      .sign(new TextEncoder().encode(key));
  };

  it('verifies HS256 and HS512 tokens signed with the secret', async () => {
    await verifier.start();
    expect(codeOf(await verifier.verify(await hs('HS256', secret)))).toBe('ok');
    expect(codeOf(await verifier.verify(await hs('HS512', secret)))).toBe('ok');
  });

  it('refuses another secret, a non-allowed HS algorithm, and asymmetric tokens', async () => {
    expect(codeOf(await verifier.verify(await hs('HS256', `${secret}!`)))).toBe(
      'token_invalid_signature',
    );
    expect(codeOf(await verifier.verify(await hs('HS384', secret)))).toBe('algorithm_not_allowed');
    expect(codeOf(await verifier.verify(await signToken(key)))).toBe('algorithm_not_allowed');
  });

  it('works without start (the key is imported on first use)', async () => {
    const lazy = createTokenVerifier({
      issuers: [issuerConfig({ kind: 'secret', secret }, { algorithms: ['HS256'] })],
      token: TOKEN_CONFIG,
    });
    expect(codeOf(await lazy.verify(await hs('HS256', secret)))).toBe('ok');
  });
});
