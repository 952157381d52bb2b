// io.jwt.decode, io.jwt.decode_verify and the io.jwt.verify_* builtins, with OPA's semantics and a bounded verification cache.
import type { KeyObject } from 'node:crypto';
import type { JsBuiltin } from '../builtins.js';
import {
  type HostContext,
  BuiltinError,
  guarded,
  jsonText,
  objectOperand,
  stringOperand,
} from './host-builtin.js';
import {
  type VerificationKey,
  ecdsaVerifies,
  ed25519Verifies,
  hmacMatches,
  jwsVerifies,
  keysFromCertOrJwk,
  rsaVerifies,
} from './jwt-keys.js';
import {
  type TokenParts,
  decodeBase64Url,
  decodeHeader,
  decodeSignature,
  headerFields,
  jsonObject,
  splitToken,
} from './jwt-parts.js';

/** Entries each cache keeps at most; the oldest goes first. */
const CACHE_ENTRIES = 4096;

/** A Map that forgets its oldest entry beyond `limit`. */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}

/** A builtin error remembered, so a cached failure fails the same way. */
const FAILED = Symbol('failed');

function hexOf(bytes: Buffer): string {
  return bytes.toString('hex');
}

/** `io.jwt.decode`: [header, payload, signature hex], following a `cty: JWT` payload to the inner token. */
function decodeToken(token: unknown): [Record<string, unknown>, Record<string, unknown>, string] {
  const parts = splitToken(token);
  const header = decodeHeader(parts);
  const payloadText = decodeBase64Url(parts.payload).toString('utf8');
  if (Object.hasOwn(header, 'cty')) {
    if (typeof header.cty !== 'string') {
      // OPA's topdown crashes here; mandate halts the evaluation instead (a deny).
      throw new Error('io.jwt.decode: cty header is not a string');
    }
    if (header.cty === 'JWT') return decodeToken(payloadText.replace(/^["']+|["']+$/g, ''));
  }
  const payload = jsonObject(payloadText);
  return [header, payload, hexOf(decodeBase64Url(parts.signature))];
}

type Check = (key: KeyObject, signed: string, signature: Buffer) => boolean;

/** Creates the JWT builtins over one context (for the clock) with their own caches. */
export function createJwtBuiltins(context: HostContext): Record<string, JsBuiltin> {
  const keySets = new BoundedMap<VerificationKey[] | typeof FAILED>(256);
  /** verify_*: (function, token, key) → valid, or a remembered builtin error. */
  const verified = new BoundedMap<boolean | typeof FAILED>(CACHE_ENTRIES);
  /** decode_verify: (token, key material, alg) → the time-independent outcome. */
  const decoded = new BoundedMap<DecodeOutcome>(CACHE_ENTRIES);

  function keysOf(text: string): VerificationKey[] {
    const cached = keySets.get(text);
    if (cached === FAILED) throw new BuiltinError('invalid key');
    if (cached !== undefined) return cached;
    try {
      const keys = keysFromCertOrJwk(text);
      keySets.set(text, keys);
      return keys;
    } catch (thrown) {
      if (thrown instanceof BuiltinError) keySets.set(text, FAILED);
      throw thrown;
    }
  }

  /** `io.jwt.verify_<alg>` over a PEM or JWK(S): a kid match is the only key tried, else every key whose alg agrees. */
  function verifyWithKeys(name: string, check: Check): JsBuiltin {
    return guarded((token: unknown, cert: unknown) => {
      const text = stringOperand(token, 1);
      const certText = typeof cert === 'string' ? cert : undefined;
      const cacheKey = certText === undefined ? undefined : `${name}\0${text}\0${certText}`;
      const hit = cacheKey === undefined ? undefined : verified.get(cacheKey);
      if (hit === FAILED) throw new BuiltinError('cached failure');
      if (hit !== undefined) return hit;
      try {
        const valid = verifyUncached(text, cert, check);
        if (cacheKey !== undefined) verified.set(cacheKey, valid);
        return valid;
      } catch (thrown) {
        if (thrown instanceof BuiltinError && cacheKey !== undefined)
          verified.set(cacheKey, FAILED);
        throw thrown;
      }
    });
  }

  function verifyUncached(token: string, cert: unknown, check: Check): boolean {
    const parts = splitToken(token);
    const keys = keysOf(stringOperand(cert, 2));
    const signature = decodeSignature(parts);
    const fields = headerFields(decodeHeader(parts));
    const signed = `${parts.header}.${parts.payload}`;
    if (fields.kid !== '') {
      const byKid = keys.find((key) => key.kid === fields.kid);
      if (byKid !== undefined) return !byKid.private && check(byKid.key, signed, signature);
    }
    return keys.some(
      (key) =>
        (key.alg === '' || key.alg === fields.alg) &&
        !key.private &&
        check(key.key, signed, signature),
    );
  }

  /** `io.jwt.verify_hs<bits>`: an HMAC with the secret as UTF-8 bytes. */
  function verifyHmac(name: string, hash: string): JsBuiltin {
    return guarded((token: unknown, secret: unknown) => {
      const text = stringOperand(token, 1);
      const key = stringOperand(secret, 2);
      const cacheKey = `${name}\0${text}\0${key}`;
      const hit = verified.get(cacheKey);
      if (hit === FAILED) throw new BuiltinError('cached failure');
      if (hit !== undefined) return hit;
      let valid: boolean;
      try {
        const parts = splitToken(text);
        valid = hmacMatches(
          hash,
          Buffer.from(key),
          `${parts.header}.${parts.payload}`,
          decodeSignature(parts),
        );
      } catch (thrown) {
        if (thrown instanceof BuiltinError) verified.set(cacheKey, FAILED);
        throw thrown;
      }
      verified.set(cacheKey, valid);
      return valid;
    });
  }

  const rsa =
    (hash: string, pss: boolean): Check =>
    (key, signed, signature) =>
      rsaVerifies(hash, key, pss, signed, signature);
  const ecdsa =
    (hash: string): Check =>
    (key, signed, signature) =>
      ecdsaVerifies(hash, key, signed, signature);

  const builtins: Record<string, JsBuiltin> = {
    'io.jwt.decode': guarded((token: unknown) => decodeToken(token)),
    'io.jwt.decode_verify': guarded((token: unknown, constraints: unknown) =>
      decodeVerify(token, constraints, context, keysOf, decoded),
    ),
    'io.jwt.verify_hs256': verifyHmac('hs256', 'sha256'),
    'io.jwt.verify_hs384': verifyHmac('hs384', 'sha384'),
    'io.jwt.verify_hs512': verifyHmac('hs512', 'sha512'),
    'io.jwt.verify_eddsa': verifyWithKeys('eddsa', ed25519Verifies),
  };
  for (const bits of ['256', '384', '512']) {
    builtins[`io.jwt.verify_rs${bits}`] = verifyWithKeys(`rs${bits}`, rsa(`sha${bits}`, false));
    builtins[`io.jwt.verify_ps${bits}`] = verifyWithKeys(`ps${bits}`, rsa(`sha${bits}`, true));
    builtins[`io.jwt.verify_es${bits}`] = verifyWithKeys(`es${bits}`, ecdsa(`sha${bits}`));
  }
  return builtins;
}

/** What a token and its key material decide before the clock and claims are looked at. */
type DecodeOutcome =
  | typeof FAILED
  | { readonly verified: false }
  | {
      readonly verified: true;
      readonly payload: Record<string, unknown>;
      /** `[true, header, payload]` as JSON text, made once. */
      readonly answer: ArrayBuffer;
    };

const UNVERIFIED = jsonText('[false,{},{}]');

interface Constraints {
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  keys?: VerificationKey[];
  cert?: string;
  time: number;
}

function constraintString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new BuiltinError(`${name} constraint: must be a string`);
  return value;
}

function parseConstraints(
  raw: Record<string, unknown>,
  context: HostContext,
  keysOf: (text: string) => VerificationKey[],
): Constraints {
  const constraints: Constraints = { secret: '', alg: '', iss: '', aud: '', time: -1 };
  for (const [name, value] of Object.entries(raw)) {
    switch (name) {
      case 'cert':
        constraints.cert = constraintString('cert', value);
        constraints.keys = keysOf(constraints.cert);
        break;
      case 'secret':
      case 'alg':
      case 'iss':
      case 'aud':
        constraints[name] = constraintString(name, value);
        break;
      case 'time':
        if (typeof value !== 'number')
          throw new BuiltinError('token time constraint: must be a number');
        if (value < 0) throw new BuiltinError('token time constraint: must not be negative');
        constraints.time = value;
        break;
      default:
        throw new BuiltinError(`unknown token validation constraint: ${name}`);
    }
  }
  if (constraints.time === -1) constraints.time = Number(context.nowNs());
  const keyed = (constraints.keys !== undefined ? 1 : 0) + (constraints.secret !== '' ? 1 : 0);
  if (keyed > 1) throw new BuiltinError('duplicate key constraints');
  if (keyed < 1) throw new BuiltinError('no key constraint');
  return constraints;
}

/** The signature check of `decode_verify`: a kid match alone, else every key whose alg agrees (or the secret). */
function signatureVerifies(
  constraints: Constraints,
  alg: string,
  kid: string,
  parts: TokenParts,
  signature: Buffer,
): boolean {
  const signed = `${parts.header}.${parts.payload}`;
  const keys = constraints.keys;
  if (keys !== undefined) {
    if (kid !== '') {
      const byKid = keys.find((key) => key.kid === kid);
      if (byKid !== undefined) return jwsVerifies(alg, byKid.key, signed, signature);
    }
    return keys.some(
      (key) => (key.alg === '' || key.alg === alg) && jwsVerifies(alg, key.key, signed, signature),
    );
  }
  return jwsVerifies(alg, Buffer.from(constraints.secret), signed, signature);
}

/** Everything of `decode_verify` that does not depend on the time or the claims constraints. */
function decodeOutcome(token: unknown, constraints: Constraints): DecodeOutcome {
  let current: unknown = token;
  for (;;) {
    const parts = splitToken(current);
    const header = decodeHeader(parts);
    const fields = headerFields(header);
    if (!fields.valid) return { verified: false };
    if (constraints.alg !== '' && constraints.alg !== fields.alg) return { verified: false };
    const signature = decodeSignature(parts);
    if (!signatureVerifies(constraints, fields.alg, fields.kid, parts, signature)) {
      return { verified: false };
    }
    const payloadText = decodeBase64Url(parts.payload).toString('utf8');
    if (fields.cty.toUpperCase() === 'JWT') {
      current = payloadText;
      continue;
    }
    const payload = jsonObject(payloadText);
    return {
      verified: true,
      payload,
      answer: jsonText(`[true,${JSON.stringify(header)},${JSON.stringify(payload)}]`),
    };
  }
}

function audienceMatches(aud: unknown, wanted: string): boolean {
  if (typeof aud === 'string') return aud === wanted;
  return Array.isArray(aud) && aud.some((entry) => entry === wanted);
}

/** `io.jwt.decode_verify`: `[true, header, payload]` when signature and constraints hold, else `[false, {}, {}]`. */
function decodeVerify(
  token: unknown,
  rawConstraints: unknown,
  context: HostContext,
  keysOf: (text: string) => VerificationKey[],
  cache: BoundedMap<DecodeOutcome>,
): ArrayBuffer {
  const constraints = parseConstraints(objectOperand(rawConstraints, 2), context, keysOf);
  // The cache holds only what the token and key material decide; time, iss and aud are checked on every call.
  const material =
    constraints.cert !== undefined ? `c${constraints.cert}` : `s${constraints.secret}`;
  const cacheKey =
    typeof token === 'string' ? `${token}\0${constraints.alg}\0${material}` : undefined;
  let outcome = cacheKey === undefined ? undefined : cache.get(cacheKey);
  if (outcome === undefined) {
    try {
      outcome = decodeOutcome(token, constraints);
    } catch (thrown) {
      if (thrown instanceof BuiltinError && cacheKey !== undefined) cache.set(cacheKey, FAILED);
      throw thrown;
    }
    if (cacheKey !== undefined) cache.set(cacheKey, outcome);
  }
  if (outcome === FAILED) throw new BuiltinError('cached failure');
  if (!outcome.verified) return UNVERIFIED;
  const payload = outcome.payload;
  if (constraints.iss !== '') {
    if (!Object.hasOwn(payload, 'iss')) return UNVERIFIED;
    if (typeof payload.iss !== 'string') {
      // OPA's topdown crashes on a non-string iss when an iss constraint is given; mandate halts (a deny).
      throw new Error('io.jwt.decode_verify: iss claim is not a string');
    }
    if (payload.iss !== constraints.iss) return UNVERIFIED;
  }
  if (Object.hasOwn(payload, 'aud')) {
    if (!audienceMatches(payload.aud, constraints.aud)) return UNVERIFIED;
  } else if (constraints.aud !== '') {
    return UNVERIFIED;
  }
  const now = constraints.time / 1e9;
  if (Object.hasOwn(payload, 'exp')) {
    if (typeof payload.exp !== 'number') throw new BuiltinError('exp value must be a number');
    if (now >= payload.exp) return UNVERIFIED;
  }
  if (Object.hasOwn(payload, 'nbf')) {
    if (typeof payload.nbf !== 'number') throw new BuiltinError('nbf value must be a number');
    if (now < payload.nbf) return UNVERIFIED;
  }
  return outcome.answer;
}
