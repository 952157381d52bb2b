// Bundle signatures as OPA defines them: one JWT in .signatures.json listing every file with its hash.
//
// Verification follows OPA's DefaultVerifier step by step: exactly one JWT; the key id from the
// configuration, else the JWT header's `kid`, else the payload's `keyid`; the JWT verified with that
// key's algorithm; the payload's `scope` equal to the configured one (or the key's); then every file
// of the bundle except `.signatures.json` and excluded files must be listed with a matching digest,
// and every listed file must be present. Digests are over the raw bytes, except for `.manifest`,
// `data.json` and `data.yaml`, which are hashed in canonical JSON form (canonical-json.ts).
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
} from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import { parse as parseYaml } from 'yaml';
import { canonicalJson, canonicalValue } from './canonical-json.js';
import { PolicyError, describeThrown } from './errors.js';
import type { TarFile } from './tar-reader.js';
import { SIGNATURES_FILE } from './bundle-format.js';

/** A verification key as OPA's `keys:` configures it. */
export interface BundleKey {
  /** JWS algorithm, e.g. `RS256`, `ES256`, `HS256`. */
  readonly algorithm: string;
  /** PEM public key or certificate (RS/PS/ES/EdDSA), or the shared secret (HS*). */
  readonly key: string;
  /** Scope this key implies when the bundle's own `signing.scope` is not set. */
  readonly scope?: string;
}

/** How one bundle is verified (OPA's `bundles.<name>.signing`). */
export interface BundleVerification {
  /** Keys by id. */
  readonly keys: Readonly<Record<string, BundleKey>>;
  /** Key id to use; default: the JWT's `kid`, else its `keyid` claim. */
  readonly keyId?: string;
  /** Required `scope` claim; default: the key's scope, else none. */
  readonly scope?: string;
  /** Files left out of verification (OPA's `exclude_files`). */
  readonly excludeFiles?: readonly string[];
}

const HASHES: Readonly<Record<string, string>> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};

const STRUCTURED = new Set(['.manifest', 'data.json', 'data.yaml', SIGNATURES_FILE]);

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The digest OPA computes for a bundle file (hex). Throws for an unknown algorithm or bad JSON. */
export function bundleFileDigest(path: string, data: Uint8Array, algorithm = 'SHA-256'): string {
  const hash = HASHES[algorithm];
  if (hash === undefined) throw new Error(`unsupported hashing algorithm: ${algorithm}`);
  const h = createHash(hash);
  const name = baseName(path);
  if (STRUCTURED.has(name)) {
    const text = new TextDecoder().decode(data);
    h.update(name.endsWith('.yaml') ? canonicalValue(parseYaml(text)) : canonicalJson(text));
  } else {
    h.update(data);
  }
  return h.digest('hex');
}

function verificationKey(key: BundleKey): KeyObject | Uint8Array {
  if (key.algorithm.startsWith('HS')) return new TextEncoder().encode(key.key);
  if (key.key.includes('BEGIN CERTIFICATE')) return new X509Certificate(key.key).publicKey;
  return createPublicKey(key.key);
}

interface SignedFile {
  readonly name: string;
  readonly hash: string;
  readonly algorithm: string;
}

function invalid(unit: string, message: string, cause?: unknown): PolicyError {
  return new PolicyError('signature_invalid', `${unit}: ${message}`, {
    unit,
    ...(cause !== undefined && { cause }),
  });
}

function decodePart(part: string | undefined): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Verifies a bundle's signature. `signatures` is the `.signatures.json` text (undefined when the
 * bundle has none). Throws {@link PolicyError} `signature_invalid`, with OPA's reasons.
 */
export async function verifyBundleSignature(
  unit: string,
  files: readonly TarFile[],
  signatures: string | undefined,
  config: BundleVerification,
): Promise<void> {
  if (signatures === undefined) throw invalid(unit, 'bundle missing .signatures.json file');
  let tokens: unknown;
  try {
    tokens = (JSON.parse(signatures) as { signatures?: unknown }).signatures;
  } catch (cause) {
    throw invalid(unit, '.signatures.json is not JSON', cause);
  }
  if (!Array.isArray(tokens) || tokens.length === 0) {
    throw invalid(unit, '.signatures.json: missing JWT (expected exactly one)');
  }
  if (tokens.length > 1) {
    throw invalid(unit, '.signatures.json: multiple JWTs not supported (expected exactly one)');
  }
  const token = tokens[0];
  if (typeof token !== 'string') throw invalid(unit, '.signatures.json: the JWT is not a string');

  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    const parts = token.split('.');
    if (parts.length !== 3) throw new Error('not a compact JWS');
    header = decodePart(parts[0]);
    payload = decodePart(parts[1]);
  } catch (cause) {
    throw invalid(unit, `cannot decode the signature JWT: ${describeThrown(cause)}`, cause);
  }
  const keyId =
    config.keyId ??
    (typeof header['kid'] === 'string' && header['kid'] !== '' ? header['kid'] : undefined) ??
    (typeof payload['keyid'] === 'string' && payload['keyid'] !== ''
      ? payload['keyid']
      : undefined);
  if (keyId === undefined) throw invalid(unit, 'verification key ID is empty');
  const key = config.keys[keyId];
  if (key === undefined)
    throw invalid(unit, `verification key corresponding to ID ${keyId} not found`);

  try {
    await compactVerify(token, verificationKey(key), { algorithms: [key.algorithm] });
  } catch (cause) {
    throw invalid(
      unit,
      `the signature does not verify with key ${keyId}: ${describeThrown(cause)}`,
      cause,
    );
  }
  const wantScope = config.scope ?? key.scope ?? '';
  const scope = typeof payload['scope'] === 'string' ? payload['scope'] : '';
  if (scope !== wantScope) throw invalid(unit, 'scope mismatch');

  const listed = new Map<string, SignedFile>();
  for (const entry of Array.isArray(payload['files']) ? (payload['files'] as unknown[]) : []) {
    const file = entry as Partial<SignedFile>;
    if (typeof file.name === 'string') {
      listed.set(file.name, {
        name: file.name,
        hash: typeof file.hash === 'string' ? file.hash : '',
        algorithm: typeof file.algorithm === 'string' ? file.algorithm : '',
      });
    }
  }
  const excluded = new Set(config.excludeFiles ?? []);
  for (const file of files) {
    if (file.path === SIGNATURES_FILE || file.path.endsWith(`/${SIGNATURES_FILE}`)) continue;
    if (excluded.has(file.path)) continue;
    const signed = listed.get(file.path);
    if (signed === undefined)
      throw invalid(unit, `file ${file.path} not included in bundle signature`);
    if (signed.algorithm === '')
      throw invalid(unit, `no hashing algorithm provided for file ${file.path}`);
    let digest: string;
    try {
      digest = bundleFileDigest(file.path, file.data, signed.algorithm);
    } catch (cause) {
      throw invalid(unit, `${file.path}: ${describeThrown(cause)}`, cause);
    }
    if (digest !== signed.hash.toLowerCase()) throw invalid(unit, `${file.path}: digest mismatch`);
    listed.delete(file.path);
  }
  if (listed.size > 0) {
    throw invalid(
      unit,
      `file(s) ${[...listed.keys()].join(', ')} specified in signature but not found in the target bundle`,
    );
  }
}

/** How `mandate policy build` signs (OPA's `--signing-key` / `--signing-alg` / claims). */
export interface BundleSigner {
  /** PEM private key (RS/PS/ES/EdDSA) or the shared secret (HS*). */
  readonly key: string;
  /** Default RS256, as opa's. */
  readonly algorithm?: string;
  /** Written as the JWT `kid` and the `keyid` claim. Default `default`, as opa's. */
  readonly keyId?: string;
  readonly scope?: string;
}

/** Produces `.signatures.json` text over `files` (paths without the leading `/`). */
export async function signBundle(files: readonly TarFile[], signer: BundleSigner): Promise<string> {
  const algorithm = signer.algorithm ?? 'RS256';
  const keyId = signer.keyId ?? 'default';
  const payload = {
    files: files.map((file) => ({
      name: file.path,
      hash: bundleFileDigest(file.path, file.data),
      algorithm: 'SHA-256',
    })),
    keyid: keyId,
    ...(signer.scope !== undefined && { scope: signer.scope }),
  };
  const key = algorithm.startsWith('HS')
    ? new TextEncoder().encode(signer.key)
    : createPrivateKey(signer.key);
  const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: algorithm, kid: keyId, typ: 'JWT' })
    .sign(key);
  return JSON.stringify({ signatures: [jwt] });
}
