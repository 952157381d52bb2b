// Verification keys from a PEM certificate or public key, or a JWK / JWK Set, and JWS signature checks over them.
import {
  type JsonWebKey,
  type KeyObject,
  X509Certificate,
  constants,
  createHmac,
  createPublicKey,
  createSecretKey,
  timingSafeEqual,
  verify as verifySignature,
} from 'node:crypto';
import { BuiltinError } from './host-builtin.js';

/** One key to try, with the `alg` and `kid` a JWK declared (empty for PEM). */
export interface VerificationKey {
  readonly key: KeyObject;
  readonly alg: string;
  readonly kid: string;
  /**
   * The JWK held a private key. The signature-only builtins (`io.jwt.verify_*`) accept public keys
   * only, as OPA does; `io.jwt.decode_verify` verifies with the key's public half.
   */
  readonly private: boolean;
}

/** The JWS algorithms OPA knows; a JWK declaring another is skipped. */
export const TOKEN_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
]);

/**
 * Every algorithm name the JWK parser OPA uses knows (signature, key management, content
 * encryption). A JWK declaring another fails to parse; one declaring a known name that is not a
 * token algorithm is skipped.
 */
const JWA_NAMES: ReadonlySet<string> = new Set([
  ...TOKEN_ALGORITHMS,
  'ES256K',
  'Ed25519',
  'none',
  'RSA1_5',
  'RSA-OAEP',
  'RSA-OAEP-256',
  'RSA-OAEP-384',
  'RSA-OAEP-512',
  'A128KW',
  'A192KW',
  'A256KW',
  'dir',
  'ECDH-ES',
  'ECDH-ES+A128KW',
  'ECDH-ES+A192KW',
  'ECDH-ES+A256KW',
  'A128GCMKW',
  'A192GCMKW',
  'A256GCMKW',
  'PBES2-HS256+A128KW',
  'PBES2-HS384+A192KW',
  'PBES2-HS512+A256KW',
  'A128CBC-HS256',
  'A192CBC-HS384',
  'A256CBC-HS512',
  'A128GCM',
  'A192GCM',
  'A256GCM',
]);

const PEM_BEGIN = /(?:^|\n)-----BEGIN ([^\n]*?)-----[ \t\r]*\n/g;

/** The first well-formed PEM block (Go's pem.Decode), with whatever follows its END line. */
function firstPemBlock(text: string): { type: string; der: Buffer; rest: string } | undefined {
  PEM_BEGIN.lastIndex = 0;
  for (let match = PEM_BEGIN.exec(text); match !== null; match = PEM_BEGIN.exec(text)) {
    const type = match[1]!;
    const bodyStart = match.index + match[0].length;
    const endMarker = `-----END ${type}-----`;
    const end = text.indexOf(`\n${endMarker}`, bodyStart - 1);
    if (end < 0) continue;
    const body = text.slice(bodyStart, end + 1);
    const compact = body.replace(/[ \t\r\n]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) continue;
    let after = text.slice(end + 1 + endMarker.length);
    const lineEnd = after.indexOf('\n');
    const trailer = lineEnd < 0 ? after : after.slice(0, lineEnd);
    if (trailer.trim() !== '') continue;
    after = lineEnd < 0 ? '' : after.slice(lineEnd + 1);
    return { type, der: Buffer.from(compact, 'base64'), rest: after };
  }
  return undefined;
}

function rsaTooSmall(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024;
}

function fromPem(block: { type: string; der: Buffer; rest: string }): VerificationKey[] {
  if (block.rest.length > 0) throw new BuiltinError('extra data after a PEM certificate block');
  try {
    if (block.type === 'CERTIFICATE') {
      return [{ key: new X509Certificate(block.der).publicKey, alg: '', kid: '', private: false }];
    }
    if (block.type === 'PUBLIC KEY') {
      return [
        {
          key: createPublicKey({ key: block.der, format: 'der', type: 'spki' }),
          alg: '',
          kid: '',
          private: false,
        },
      ];
    }
  } catch {
    throw new BuiltinError(`failed to parse a PEM ${block.type.toLowerCase()}`);
  }
  throw new BuiltinError('failed to extract a Key from the PEM certificate');
}

function fromJwk(jwk: Record<string, unknown>): KeyObject {
  if (jwk.kty === 'oct') {
    if (typeof jwk.k !== 'string') throw new BuiltinError('oct JWK without k');
    return createSecretKey(Buffer.from(jwk.k, 'base64url'));
  }
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') {
    throw new BuiltinError('unsupported JWK key type');
  }
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw new BuiltinError('invalid JWK');
  }
}

function fromJwks(text: string): VerificationKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BuiltinError('failed to parse a JWK key (set)');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new BuiltinError('failed to parse a JWK key (set)');
  }
  const record = doc as Record<string, unknown>;
  const list = Object.hasOwn(record, 'keys') ? record.keys : [record];
  if (!Array.isArray(list)) throw new BuiltinError('keys must be a list');
  const keys: VerificationKey[] = [];
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new BuiltinError('a JWK must be an object');
    }
    const jwk = entry as Record<string, unknown>;
    let alg = '';
    if (Object.hasOwn(jwk, 'alg')) {
      if (typeof jwk.alg !== 'string' || !JWA_NAMES.has(jwk.alg)) {
        throw new BuiltinError('invalid JWK algorithm');
      }
      alg = jwk.alg;
    }
    // The JWK parser rejects a key whose standard string members are not strings.
    for (const member of ['kid', 'use']) {
      if (Object.hasOwn(jwk, member) && typeof jwk[member] !== 'string') {
        throw new BuiltinError(`invalid JWK ${member}`);
      }
    }
    const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
    const key = fromJwk(jwk);
    if (alg !== '' && !TOKEN_ALGORITHMS.has(alg)) continue;
    keys.push({ key, alg, kid, private: jwk.kty !== 'oct' && Object.hasOwn(jwk, 'd') });
  }
  return keys;
}

/** The keys a `cert` string holds: a PEM certificate or public key, else a JWK or JWK Set. */
export function keysFromCertOrJwk(text: string): VerificationKey[] {
  const block = firstPemBlock(text);
  return block !== undefined ? fromPem(block) : fromJwks(text);
}

const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Node's name of the hash a JWS algorithm's suffix names. */
export function hashOf(alg: string): string | undefined {
  return HASHES[alg.slice(2)];
}

/** An HMAC comparison in constant time. */
export function hmacMatches(
  hash: string,
  secret: Buffer | KeyObject,
  signed: string,
  signature: Buffer,
): boolean {
  const mac = createHmac(hash, secret).update(signed).digest();
  return mac.length === signature.length && timingSafeEqual(mac, signature);
}

/** RSASSA-PKCS1-v1_5 or PSS (salt length found from the signature); RSA keys under 1024 bits never verify. */
export function rsaVerifies(
  hash: string,
  key: KeyObject,
  pss: boolean,
  signed: string,
  signature: Buffer,
): boolean {
  if (key.type !== 'public' || key.asymmetricKeyType !== 'rsa' || rsaTooSmall(key)) return false;
  try {
    return verifySignature(
      hash,
      Buffer.from(signed),
      pss
        ? {
            key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_AUTO,
          }
        : { key, padding: constants.RSA_PKCS1_PADDING },
      signature,
    );
  } catch {
    return false;
  }
}

/** An ECDSA signature in JWS form (r then s, each half the bytes), any curve; hashing as Go does. */
export function ecdsaVerifies(
  hash: string,
  key: KeyObject,
  signed: string,
  signature: Buffer,
): boolean {
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ec') return false;
  const half = Math.floor(signature.length / 2);
  try {
    return verifySignature(
      hash,
      Buffer.from(signed),
      { key, dsaEncoding: 'der' },
      derSignature(signature.subarray(0, half), signature.subarray(half)),
    );
  } catch {
    return false;
  }
}

/** An Ed25519 signature. */
export function ed25519Verifies(key: KeyObject, signed: string, signature: Buffer): boolean {
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verifySignature(null, Buffer.from(signed), key, signature);
  } catch {
    return false;
  }
}

function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let value = bytes.subarray(start);
  if (value.length === 0) value = Buffer.from([0]);
  if (value[0]! & 0x80) value = Buffer.concat([Buffer.from([0]), value]);
  return Buffer.concat([Buffer.from([0x02]), derLength(value.length), value]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

/** r and s as a DER SEQUENCE of two INTEGERs, as Node's ECDSA verify reads them. */
function derSignature(r: Buffer, s: Buffer): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

const CURVE_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/**
 * A JWS signature checked the way the full verifier (`decode_verify`) does: the algorithm chooses
 * the check and the key must be of its type; an ECDSA signature must be exactly r‖s for the curve.
 */
export function jwsVerifies(
  alg: string,
  key: KeyObject | Buffer,
  signed: string,
  signature: Buffer,
): boolean {
  const hash = alg === 'EdDSA' ? undefined : hashOf(alg);
  const family = alg.slice(0, 2);
  if (Buffer.isBuffer(key) || key.type === 'secret') {
    return family === 'HS' && hash !== undefined && hmacMatches(hash, key, signed, signature);
  }
  if (alg === 'EdDSA') return ed25519Verifies(key, signed, signature);
  if (hash === undefined) return false;
  if (family === 'RS' || family === 'PS') {
    return rsaVerifies(hash, key, family === 'PS', signed, signature);
  }
  if (family === 'ES') {
    const size = CURVE_BYTES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (size === undefined || signature.length !== 2 * size) return false;
    return ecdsaVerifies(hash, key, signed, signature);
  }
  return false;
}
