// Generated io.jwt.* cases: every algorithm with right and wrong keys (PEM, certificate, JWK, JWKS), claims at their edges, malformed tokens.
import {
  type KeyObject,
  constants,
  createHmac,
  createPublicKey,
  createPrivateKey,
  generateKeyPairSync,
  sign as signBytes,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltinCase } from './run-both.js';

const here = import.meta.dirname;
const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const part = (value: unknown) => b64(JSON.stringify(value));

interface Signer {
  readonly alg: string;
  readonly sign: (data: string) => Buffer;
  /** The verifying key as PEM (SPKI) and as a JWK. */
  readonly pem: string;
  readonly jwk: Record<string, unknown>;
  /** The signing key as a JWK, as someone might paste it in place of the public one. */
  readonly privateJwk: Record<string, unknown>;
}

function asymmetric(alg: string, privateKey: KeyObject, publicKey: KeyObject): Signer {
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const options = alg.startsWith('PS')
    ? {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      }
    : alg.startsWith('ES')
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
      : privateKey;
  return {
    alg,
    sign: (data) => signBytes(hash, Buffer.from(data), options),
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    privateJwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
  };
}

function rsa(alg: string, bits = 2048): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return asymmetric(alg, privateKey, publicKey);
}

function ec(alg: string): Signer {
  const curve = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg]!;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return asymmetric(alg, privateKey, publicKey);
}

function ed(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return asymmetric('EdDSA', privateKey, publicKey);
}

function certSigner(alg: string, name: string): Signer & { cert: string } {
  const privateKey = createPrivateKey(readFileSync(join(here, `${name}.key`)));
  const cert = readFileSync(join(here, `${name}.pem`), 'utf8');
  const publicKey = createPublicKey(privateKey);
  const signer = asymmetric(alg, privateKey, publicKey);
  return { ...signer, cert };
}

/** A compact JWS over `header` and `claims` signed by `sign`. */
function token(header: Record<string, unknown>, claims: unknown, sign: (data: string) => Buffer) {
  const signed = `${part(header)}.${typeof claims === 'string' ? b64(claims) : part(claims)}`;
  return `${signed}.${b64(sign(signed))}`;
}

const hmac = (hash: string, secret: string) => (data: string) =>
  createHmac(hash, secret).update(data).digest();

/** Every io.jwt case; `nowSeconds` is the time claims are set around. */
export function jwtCases(nowSeconds: number): BuiltinCase[] {
  const cases: BuiltinCase[] = [];
  const add = (fn: string, note: string, ...args: unknown[]) => cases.push({ fn, args, note });
  const nowNs = nowSeconds * 1_000_000_000;
  const claims = {
    iss: 'https://issuer.example',
    aud: 'orders',
    sub: 'u1',
    nbf: nowSeconds - 60,
    exp: nowSeconds + 60,
  };

  const signers: Signer[] = [
    rsa('RS256'),
    rsa('RS384'),
    rsa('RS512'),
    rsa('PS256'),
    rsa('PS384'),
    rsa('PS512'),
    ec('ES256'),
    ec('ES384'),
    ec('ES512'),
    ed(),
  ];
  const others: Signer[] = [rsa('RS256'), ec('ES256'), ed()];
  const wrongFor = (signer: Signer) =>
    others.find((other) => other.jwk.kty === signer.jwk.kty && other.jwk.crv === signer.jwk.crv) ??
    others[0]!;

  for (const signer of signers) {
    const fn =
      signer.alg === 'EdDSA' ? 'io.jwt.verify_eddsa' : `io.jwt.verify_${signer.alg.toLowerCase()}`;
    const good = token({ alg: signer.alg, typ: 'JWT', kid: 'k1' }, claims, signer.sign);
    const wrong = wrongFor(signer);
    add(fn, `${signer.alg} valid, PEM`, good, signer.pem);
    add(fn, `${signer.alg} valid, JWK`, good, JSON.stringify(signer.jwk));
    add(
      fn,
      `${signer.alg} valid, JWKS kid`,
      good,
      JSON.stringify({
        keys: [
          { ...wrong.jwk, kid: 'k0' },
          { ...signer.jwk, kid: 'k1' },
        ],
      }),
    );
    add(
      fn,
      `${signer.alg} kid names the wrong key`,
      good,
      JSON.stringify({
        keys: [
          { ...wrong.jwk, kid: 'k1' },
          { ...signer.jwk, kid: 'k2' },
        ],
      }),
    );
    add(
      fn,
      `${signer.alg} JWKS key alg disagrees`,
      good,
      JSON.stringify({
        keys: [{ ...signer.jwk, alg: 'RS512' === signer.alg ? 'RS256' : 'RS512' }],
      }),
    );
    add(
      fn,
      `${signer.alg} JWKS key with an unknown alg`,
      good,
      JSON.stringify({ keys: [{ ...signer.jwk, alg: 'XX1' }] }),
    );
    add(
      fn,
      `${signer.alg} JWKS key with a non-token alg`,
      good,
      JSON.stringify({
        keys: [
          { ...signer.jwk, alg: 'RSA-OAEP' },
          { ...signer.jwk, alg: 'ES256K' },
        ],
      }),
    );
    add(
      fn,
      `${signer.alg} JWKS key with an empty alg`,
      good,
      JSON.stringify({ keys: [{ ...signer.jwk, alg: '' }] }),
    );
    add(fn, `${signer.alg} wrong key`, good, wrong.pem);
    add(
      fn,
      `${signer.alg} tampered payload`,
      good.replace(/\.[^.]+\./, `.${part({ ...claims, sub: 'root' })}.`),
      signer.pem,
    );
    add(fn, `${signer.alg} empty JWKS`, good, '{"keys": []}');
    add(fn, `${signer.alg} private JWK`, good, JSON.stringify(signer.privateJwk));
    add('io.jwt.decode_verify', `${signer.alg} private JWK`, good, {
      cert: JSON.stringify({ keys: [signer.privateJwk] }),
      time: nowNs,
      aud: 'orders',
    });
    add(fn, `${signer.alg} key is not a key`, good, 'not a key');
    add(fn, `${signer.alg} key is a number`, good, 42);
    add(fn, `${signer.alg} token is a number`, 7, signer.pem);
    add(fn, `${signer.alg} two sections`, good.split('.').slice(0, 2).join('.'), signer.pem);
    add(
      fn,
      `${signer.alg} bad signature encoding`,
      `${good.slice(0, good.lastIndexOf('.'))}.a`,
      signer.pem,
    );
    add(
      fn,
      `${signer.alg} header not JSON`,
      `${b64('{nope')}.${good.split('.').slice(1).join('.')}`,
      signer.pem,
    );
    add(
      fn,
      `${signer.alg} HS token`,
      token({ alg: 'HS256' }, claims, hmac('sha256', 'secret')),
      signer.pem,
    );
    add(fn, `${signer.alg} PEM with trailing text`, good, `${signer.pem}trailing`);
  }

  const rsaCert = certSigner('RS256', 'rsa-cert');
  const ecCert = certSigner('ES256', 'ec-cert');
  for (const cs of [rsaCert, ecCert]) {
    const fn = `io.jwt.verify_${cs.alg.toLowerCase()}`;
    const good = token({ alg: cs.alg }, claims, cs.sign);
    add(fn, `${cs.alg} certificate`, good, cs.cert);
    add(
      fn,
      `${cs.alg} certificate, wrong token`,
      token({ alg: cs.alg }, claims, signers[cs.alg === 'RS256' ? 0 : 6]!.sign),
      cs.cert,
    );
    add('io.jwt.decode_verify', `${cs.alg} certificate`, good, { cert: cs.cert, time: nowNs });
  }

  for (const bits of ['256', '384', '512']) {
    const fn = `io.jwt.verify_hs${bits}`;
    const good = token({ alg: `HS${bits}` }, claims, hmac(`sha${bits}`, 'secret'));
    add(fn, `HS${bits} valid`, good, 'secret');
    add(fn, `HS${bits} wrong secret`, good, 'Secret');
    add(
      fn,
      `HS${bits} empty secret`,
      token({ alg: `HS${bits}` }, claims, hmac(`sha${bits}`, '')),
      '',
    );
    add(
      fn,
      `HS${bits} unicode secret`,
      token({ alg: `HS${bits}` }, claims, hmac(`sha${bits}`, 'sécret✓')),
      'sécret✓',
    );
    add(fn, `HS${bits} secret is a number`, good, 1);
    add(fn, `HS${bits} no periods`, 'abc', 'secret');
    add(fn, `HS${bits} four sections`, `${good}.x`, 'secret');
    add(fn, `HS${bits} padded signature`, `${good}=`, 'secret');
    add(fn, `HS${bits} header not base64`, `!!.${good.split('.').slice(1).join('.')}`, 'secret');
  }

  // decode_verify: secret, PEM, JWKS; then every constraint and claim edge.
  const hs = (c: unknown, header: Record<string, unknown> = { alg: 'HS256' }, secret = 'secret') =>
    token(header, c, hmac(`sha${String(header.alg ?? 'HS256').slice(2) || '256'}`, secret));
  const dv = (note: string, tok: unknown, constraints: unknown) =>
    add('io.jwt.decode_verify', note, tok, constraints);
  const base = { secret: 'secret', time: nowNs, aud: 'orders' };
  dv('valid', hs(claims), base);
  dv('valid, iss matches', hs(claims), { ...base, iss: 'https://issuer.example' });
  dv('iss differs', hs(claims), { ...base, iss: 'https://other.example' });
  dv('iss constraint, no iss claim', hs({ ...claims, iss: undefined }), { ...base, iss: 'x' });
  dv('aud claim, no aud constraint', hs(claims), { secret: 'secret', time: nowNs });
  dv('aud constraint, no aud claim', hs({ ...claims, aud: undefined }), base);
  dv('aud array holds it', hs({ ...claims, aud: ['a', 'orders'] }), base);
  dv('aud array lacks it', hs({ ...claims, aud: ['a', 'b'] }), base);
  dv('aud array with a number', hs({ ...claims, aud: [1, 'orders'] }), base);
  dv('aud a number', hs({ ...claims, aud: 5 }), base);
  dv('no aud at all', hs({ ...claims, aud: undefined }), { secret: 'secret', time: nowNs });
  for (const [label, offset] of [
    ['a second before nbf', -61],
    ['at nbf', -60],
    ['a second before exp', 59],
    ['at exp', 60],
    ['after exp', 61],
    ['half a second before exp', 59.5],
  ] as const) {
    dv(label, hs(claims), { ...base, time: (nowSeconds + 60 + offset - 60) * 1e9 });
  }
  dv('fractional exp', hs({ ...claims, exp: nowSeconds + 0.5 }), base);
  dv('exp a string', hs({ ...claims, exp: String(nowSeconds + 60) }), base);
  dv('nbf a string', hs({ ...claims, nbf: 'soon' }), base);
  dv('exp null', hs({ ...claims, exp: null }), base);
  dv('time a string', hs(claims), { ...base, time: 'now' });
  dv('time negative', hs(claims), { ...base, time: -1 });
  dv('time zero, token with nbf', hs(claims), { ...base, time: 0 });
  dv('no time: the clock', hs({ ...claims, nbf: 0, exp: 4102444800 }), {
    secret: 'secret',
    aud: 'orders',
  });
  dv('no time: expired by the clock', hs({ ...claims, nbf: 0, exp: 1 }), {
    secret: 'secret',
    aud: 'orders',
  });
  dv('alg constraint matches', hs(claims), { ...base, alg: 'HS256' });
  dv('alg constraint differs', hs(claims), { ...base, alg: 'RS256' });
  dv('unknown constraint', hs(claims), { ...base, foo: 1 });
  dv('no key constraint', hs(claims), { time: nowNs });
  dv('empty secret counts as none', hs(claims), { secret: '', time: nowNs, aud: 'orders' });
  dv('both secret and cert', hs(claims), { ...base, cert: signers[0]!.pem });
  dv('secret a number', hs(claims), { ...base, secret: 5 });
  dv('iss constraint a number', hs(claims), { ...base, iss: 5 });
  dv('constraints not an object', hs(claims), 'secret');
  dv('wrong secret', hs(claims), { ...base, secret: 'other' });
  dv('HS384 with secret', hs(claims, { alg: 'HS384' }), base);
  dv('HS512 with secret', hs(claims, { alg: 'HS512' }), base);
  dv('alg none', `${part({ alg: 'none' })}.${part(claims)}.`, base);
  dv('no alg header', hs(claims, { typ: 'JWT' }), base);
  dv('alg not a string', `${part({ alg: 5 })}.${part(claims)}.${b64('x')}`, base);
  dv('kid not a string', hs(claims, { alg: 'HS256', kid: 7 }), base);
  dv('typ not a string', hs(claims, { alg: 'HS256', typ: [] }), base);
  dv(
    'crit names an unknown header',
    hs(claims, { alg: 'HS256', crit: ['x-new'], 'x-new': 1 }),
    base,
  );
  dv('crit names a known header', hs(claims, { alg: 'HS256', crit: ['kid'], kid: 'a' }), base);
  dv('crit empty', hs(claims, { alg: 'HS256', crit: [] }), base);
  dv('crit not a list', hs(claims, { alg: 'HS256', crit: 'x' }), base);
  dv('crit non-string first', hs(claims, { alg: 'HS256', crit: [1] }), base);
  dv('JWE header', hs(claims, { alg: 'HS256', enc: 'A128GCM' }), base);
  dv('payload not JSON', hs('not json'), base);
  dv('payload an array', hs('[1,2]'), base);
  dv('token a number', 12, base);
  dv('token with spaces', ` ${hs(claims)}`, base);
  const inner = hs(claims);
  dv('nested cty JWT', hs(inner, { alg: 'HS256', cty: 'JWT' }), base);
  dv('nested cty jwt (any case)', hs(inner, { alg: 'HS256', cty: 'jwt' }), base);
  dv(
    'nested, inner wrong secret',
    hs(hs(claims, { alg: 'HS256' }, 'other'), { alg: 'HS256', cty: 'JWT' }),
    base,
  );
  dv(
    'duplicate claim keys, last wins',
    `${part({ alg: 'HS256' })}.${b64('{"aud":"x","aud":"orders","exp":1}')}.`,
    base,
  );
  for (const signer of signers) {
    const good = token({ alg: signer.alg, kid: 'k1' }, claims, signer.sign);
    dv(`${signer.alg} PEM`, good, { cert: signer.pem, time: nowNs, aud: 'orders' });
    dv(`${signer.alg} JWKS`, good, {
      cert: JSON.stringify({ keys: [{ ...signer.jwk, kid: 'k1', alg: signer.alg }] }),
      time: nowNs,
      aud: 'orders',
    });
    dv(`${signer.alg} JWKS, kid mismatch, alg match`, good, {
      cert: JSON.stringify({ keys: [{ ...signer.jwk, kid: 'zz', alg: signer.alg }] }),
      time: nowNs,
      aud: 'orders',
    });
    dv(`${signer.alg} wrong key`, good, { cert: wrongFor(signer).pem, time: nowNs, aud: 'orders' });
    dv(`${signer.alg} expired`, good, {
      cert: signer.pem,
      time: (nowSeconds + 3600) * 1e9,
      aud: 'orders',
    });
    dv(`${signer.alg} alg constraint differs`, good, {
      cert: signer.pem,
      time: nowNs,
      aud: 'orders',
      alg: 'HS256',
    });
    dv(
      `${signer.alg} header claims HS256, PEM key`,
      token({ alg: 'HS256' }, claims, hmac('sha256', 'x')),
      { cert: signer.pem, time: nowNs, aud: 'orders' },
    );
  }
  dv('HS256 with an oct JWK', hs(claims, { alg: 'HS256' }, 'secret'), {
    cert: JSON.stringify({ keys: [{ kty: 'oct', k: b64('secret'), alg: 'HS256' }] }),
    time: nowNs,
    aud: 'orders',
  });
  dv('cert not a string', hs(claims), { cert: 1, time: nowNs });
  // Key material at its edges.
  const es256 = signers[6]!;
  const es384 = signers[7]!;
  const rs = signers[0]!;
  const rsToken = token({ alg: 'RS256' }, claims, rs.sign);
  const esToken = token({ alg: 'ES256' }, claims, es256.sign);
  const at = { time: nowNs, aud: 'orders' };
  dv('ES256 token, P-384 key', esToken, { ...at, cert: es384.pem });
  add('io.jwt.verify_es256', 'ES256 token, P-384 key', esToken, es384.pem);
  add('io.jwt.verify_es384', 'ES256 token through verify_es384', esToken, es256.pem);
  dv(
    'ES256 signature one byte short',
    `${esToken.slice(0, esToken.lastIndexOf('.'))}.${b64(Buffer.from(esToken.split('.')[2]!, 'base64url').subarray(1))}`,
    { ...at, cert: es256.pem },
  );
  add(
    'io.jwt.verify_es256',
    'signature one byte short',
    `${esToken.slice(0, esToken.lastIndexOf('.'))}.${b64(Buffer.from(esToken.split('.')[2]!, 'base64url').subarray(1))}`,
    es256.pem,
  );
  add('io.jwt.verify_rs256', 'PEM after leading text', rsToken, `some text\n${rs.pem}`);
  add('io.jwt.verify_rs256', 'PEM with two trailing newlines', rsToken, `${rs.pem}\n`);
  add('io.jwt.verify_rs256', 'PEM without its final newline', rsToken, rs.pem.trimEnd());
  add('io.jwt.verify_rs256', 'two PEM blocks', rsToken, `${rs.pem}${rs.pem}`);
  add(
    'io.jwt.verify_rs256',
    'PEM of another type',
    rsToken,
    rs.pem.replaceAll('PUBLIC KEY', 'RSA PUBLIC KEY'),
  );
  add(
    'io.jwt.verify_rs256',
    'PEM with a corrupt body',
    rsToken,
    rs.pem.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!'),
  );
  add(
    'io.jwt.verify_rs256',
    'JWK without kty',
    rsToken,
    JSON.stringify({ n: rs.jwk.n, e: rs.jwk.e }),
  );
  add('io.jwt.verify_rs256', 'JWKS keys not a list', rsToken, JSON.stringify({ keys: {} }));
  add(
    'io.jwt.verify_rs256',
    'JWKS with one bad key',
    rsToken,
    JSON.stringify({ keys: [rs.jwk, { kty: 'RSA' }] }),
  );
  add('io.jwt.verify_rs256', 'JSON array', rsToken, JSON.stringify([rs.jwk]));
  add(
    'io.jwt.verify_rs256',
    'JWK kid not a string',
    rsToken,
    JSON.stringify({ ...rs.jwk, kid: 5 }),
  );
  add(
    'io.jwt.verify_rs256',
    'token kid matches, key says other alg',
    token({ alg: 'RS256', kid: 'x' }, claims, rs.sign),
    JSON.stringify({ keys: [{ ...rs.jwk, kid: 'x', alg: 'PS256' }] }),
  );
  dv('oct JWK without alg', hs(claims), {
    ...at,
    cert: JSON.stringify({ kty: 'oct', k: b64('secret') }),
  });
  dv('oct JWK, HS384 token', hs(claims, { alg: 'HS384' }), {
    ...at,
    cert: JSON.stringify({ kty: 'oct', k: b64('secret') }),
  });
  dv('header base64 padded', `${part({ alg: 'HS256' })}==.${part(claims)}.x`, {
    ...at,
    secret: 'secret',
  });
  dv('RS256 token, secret given', rsToken, { ...at, secret: 'secret' });
  dv('EdDSA token, RSA cert', token({ alg: 'EdDSA' }, claims, signers[9]!.sign), {
    ...at,
    cert: rs.pem,
  });
  dv('alg constraint with JWKS alg', rsToken, {
    ...at,
    alg: 'RS256',
    cert: JSON.stringify({ keys: [{ ...rs.jwk, alg: 'RS256' }] }),
  });
  dv('iss constraint empty string', hs(claims), { ...at, secret: 'secret', iss: '' });
  dv('aud constraint empty string, no aud claim', hs({ ...claims, aud: undefined }), {
    secret: 'secret',
    time: nowNs,
    aud: '',
  });
  dv('time a float', hs(claims), { ...at, secret: 'secret', time: nowNs + 0.5 });
  dv('exp as float just after now', hs({ ...claims, exp: nowSeconds + 1e-6 }), {
    ...at,
    secret: 'secret',
  });
  dv('cert garbage', hs(claims), { cert: 'garbage', time: nowNs });

  // decode: structure only.
  const dec = (note: string, tok: unknown) => add('io.jwt.decode', note, tok);
  dec('valid', hs(claims));
  dec('signed by anyone', token({ alg: 'RS256' }, claims, signers[0]!.sign));
  dec('no signature', `${part({ alg: 'none' })}.${part(claims)}.`);
  dec('nested cty JWT', hs(`"${inner}"`, { alg: 'HS256', cty: 'JWT' }));
  dec('cty jwt lower case is not nested', hs(claims, { alg: 'HS256', cty: 'jwt' }));
  dec('payload an array', hs('[1]'));
  dec('payload not JSON', hs('{'));
  dec('JWE', hs(claims, { alg: 'HS256', enc: 'x' }));
  dec('padded sections', `${part({ alg: 'HS256' })}=.${part(claims)}.${b64('sig')}`);
  dec('bad signature base64', `${part({ alg: 'HS256' })}.${part(claims)}.*`);
  dec('a number', 5);
  dec('empty', '');
  dec('dots only', '..');
  dec('unicode claims', hs({ name: 'Zoë ✓', n: 1.5, big: 12345678901234, list: [true, null] }));
  dec(
    'header with a line break inside base64',
    `${part({ alg: 'HS256' }).slice(0, 4)}\n${part({ alg: 'HS256' }).slice(4)}.${part(claims)}.${b64('s')}`,
  );
  return cases;
}
