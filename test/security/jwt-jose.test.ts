// JOSE attacks against a real sidecar and JWKS endpoint: every forged, confused or malformed token is refused with the right reason.
import { createHmac, randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { signRaw, segmentOf, withLastChar, withTrailingBits } from '../helpers/raw-jws.js';
import { postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import {
  AUDIENCE,
  ISSUER,
  createTestKey,
  encodeSegment,
  signToken,
  type TestKey,
} from '../helpers/tokens.js';

const now = () => Math.floor(Date.now() / 1000);

let sidecar: Sidecar;
/** A second, published RSA key (for algorithm confusion against an RSA public key). */
let rsa: TestKey;
/** A key the sidecar does not trust, and a JWKS endpoint publishing it (jku / x5u targets). */
let attacker: TestKey;
let attackerJwks: JwksServer;

beforeAll(async () => {
  sidecar = await startSidecar();
  rsa = await createTestKey('RS256');
  sidecar.jwks.setKeys([sidecar.key.jwk, rsa.jwk]);
  attacker = await createTestKey('ES256');
  attackerJwks = await startJwksServer([attacker.jwk]);
});
afterAll(async () => {
  await sidecar?.stop();
  await attackerJwks?.close();
});

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    iat: now(),
    exp: now() + 600,
    jti: randomUUID(),
    client_id: 'agent-1',
    scope: 'contacts.read',
    tenant: 'acme_inc',
    ...extra,
  };
}

function header(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { alg: 'ES256', kid: sidecar.key.kid, typ: 'at+jwt', ...extra };
}

async function decide(token: string, body: Record<string, unknown> = {}) {
  const res = await postCheck(sidecar, { action: 'contacts.read', token, ...body });
  expect(res.status).toBe(200);
  return res.body as {
    allow: boolean;
    reasons: { code: string }[];
    subject?: { sub: string; tenant?: string };
  };
}

async function refusedWith(token: string, code: string, body: Record<string, unknown> = {}) {
  const answer = await decide(token, body);
  expect(answer.allow).toBe(false);
  expect(answer.reasons.map((r) => r.code)).toEqual([code]);
}

function hs256(secret: string | Buffer, h: Record<string, unknown>, p: Record<string, unknown>) {
  const input = `${encodeSegment(h)}.${encodeSegment(p)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('baseline', () => {
  it('a well-formed token from the trusted issuer is allowed', async () => {
    const answer = await decide(await sidecar.token({ claims: { scope: 'contacts.read' } }));
    expect(answer.allow).toBe(true);
  });
});

describe('algorithms', () => {
  it('alg none without a signature', async () => {
    await refusedWith(
      `${encodeSegment(header({ alg: 'none' }))}.${encodeSegment(claims())}.`,
      'algorithm_not_allowed',
    );
  });

  it('alg none with a signature segment', async () => {
    await refusedWith(
      `${encodeSegment(header({ alg: 'none' }))}.${encodeSegment(claims())}.${segmentOf('x')}`,
      'algorithm_not_allowed',
    );
  });

  it.each(['None', 'NONE', 'nOnE'])('alg %s (case variants of none)', async (alg) => {
    await refusedWith(
      `${encodeSegment(header({ alg }))}.${encodeSegment(claims())}.`,
      'algorithm_not_allowed',
    );
  });

  it('HS256 with the RSA public key (PEM) as the HMAC secret', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    await refusedWith(
      hs256(pem, header({ alg: 'HS256', kid: rsa.kid }), claims()),
      'algorithm_not_allowed',
    );
  });

  it('HS256 with the published JWK (JSON) as the HMAC secret', async () => {
    const secret = JSON.stringify(await exportJWK(sidecar.key.publicKey));
    await refusedWith(hs256(secret, header({ alg: 'HS256' }), claims()), 'algorithm_not_allowed');
  });

  it('an algorithm the issuer does not allow (PS256)', async () => {
    await refusedWith(
      `${encodeSegment(header({ alg: 'PS256', kid: rsa.kid }))}.${encodeSegment(claims())}.${segmentOf('sig')}`,
      'algorithm_not_allowed',
    );
  });

  it('the right algorithm name with the other key type (ES256 header, RSA kid)', async () => {
    const token = signRaw(
      sidecar.key,
      JSON.stringify(header({ kid: rsa.kid })),
      JSON.stringify(claims()),
    );
    const answer = await decide(token);
    expect(answer.allow).toBe(false);
  });

  it('alg not a string', async () => {
    await refusedWith(
      `${encodeSegment(header({ alg: 7 }))}.${encodeSegment(claims())}.${segmentOf('s')}`,
      'token_malformed',
    );
  });
});

describe('key selection', () => {
  it.each([
    ['path traversal', '../../../../etc/passwd'],
    ['SQL', "' OR '1'='1"],
    ['NUL byte', `${'k'}\u0000${'x'}`],
    ['URL', 'https://attacker.example/key.json'],
  ])('kid injection (%s) finds no key', async (_name, kid) => {
    await refusedWith(
      signRaw(sidecar.key, JSON.stringify(header({ kid })), JSON.stringify(claims())),
      'key_not_found',
    );
  });

  it('kid that is not a string', async () => {
    await refusedWith(
      signRaw(sidecar.key, JSON.stringify(header({ kid: 42 })), JSON.stringify(claims())),
      'token_malformed',
    );
  });

  it('signed by another key under the trusted kid', async () => {
    await refusedWith(
      signRaw(attacker, JSON.stringify(header()), JSON.stringify(claims())),
      'token_invalid_signature',
    );
  });

  it.each(['jku', 'x5u'])('%s pointing at an attacker key set is never fetched', async (name) => {
    const before = attackerJwks.requests;
    const forged = signRaw(
      attacker,
      JSON.stringify(header({ kid: attacker.kid, [name]: attackerJwks.url })),
      JSON.stringify(claims()),
    );
    await refusedWith(forged, 'key_not_found');
    expect(attackerJwks.requests).toBe(before);
  });

  it('an embedded jwk header key is not trusted', async () => {
    const forged = signRaw(
      attacker,
      JSON.stringify(header({ jwk: attacker.jwk })),
      JSON.stringify(claims()),
    );
    await refusedWith(forged, 'token_invalid_signature');
  });

  it('jku, x5u and jwk on a genuinely signed token change nothing (ignored, not fetched)', async () => {
    const before = attackerJwks.requests;
    const token = await signToken(sidecar.key, {
      claims: claims(),
      header: { jku: attackerJwks.url, x5u: attackerJwks.url, jwk: attacker.jwk },
    });
    expect((await decide(token)).allow).toBe(true);
    expect(attackerJwks.requests).toBe(before);
  });
});

describe('header rules', () => {
  it.each([
    ['crit naming exp', { crit: ['exp'], exp: 1 }],
    ['crit with b64: false', { crit: ['b64'], b64: false }],
    ['crit empty', { crit: [] }],
  ])('%s is token_malformed', async (_name, extra) => {
    await refusedWith(
      signRaw(sidecar.key, JSON.stringify(header(extra)), JSON.stringify(claims())),
      'token_malformed',
    );
  });

  it.each([
    ['JWT', 'JWT'],
    ['at+JWT with application/ prefix is accepted', 'application/at+jwt'],
    ['missing', undefined],
    ['a number', 1],
    ['id_token', 'id_token+jwt'],
  ])('typ %s', async (name, typ) => {
    const token = signRaw(sidecar.key, JSON.stringify(header({ typ })), JSON.stringify(claims()));
    if (name.includes('accepted')) expect((await decide(token)).allow).toBe(true);
    else await refusedWith(token, 'token_type_invalid');
  });
});

describe('claims', () => {
  it.each([
    ['expired', { exp: now() - 3600, iat: now() - 7200 }, 'token_expired'],
    ['nbf in the future', { nbf: now() + 3600 }, 'token_not_yet_valid'],
    ['iat in the future', { iat: now() + 3600, exp: now() + 7200 }, 'token_not_yet_valid'],
    ['exp as a string', { exp: String(now() + 600) }, 'token_malformed'],
    ['aud of another API', { aud: 'billing-api' }, 'audience_mismatch'],
    ['aud list without ours', { aud: ['billing-api', 'x'] }, 'audience_mismatch'],
    ['iss of an unknown issuer', { iss: 'https://evil.example' }, 'issuer_unknown'],
    ['iss differing only by a trailing slash', { iss: `${ISSUER}/` }, 'issuer_unknown'],
    ['no iss', { iss: undefined }, 'issuer_unknown'],
    ['no exp', { exp: undefined }, 'claim_missing'],
  ])('%s', async (_name, extra, code) => {
    const payload = claims(extra);
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    await refusedWith(
      signRaw(sidecar.key, JSON.stringify(header()), JSON.stringify(payload)),
      code,
    );
  });
});

describe('encoding', () => {
  it('a token over token.max_token_bytes', async () => {
    const big = await sidecar.token({ claims: { pad: 'x'.repeat(20_000) } });
    await refusedWith(big, 'token_malformed');
  });

  it('non-zero trailing bits in the signature: same bytes, refused (one token, one hash)', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const variant = withTrailingBits(token, 2);
    expect(variant).toBeDefined();
    expect(Buffer.from(variant!.split('.')[2]!, 'base64url')).toEqual(
      Buffer.from(token.split('.')[2]!, 'base64url'),
    );
    await refusedWith(variant!, 'token_malformed');
    expect((await decide(token)).allow).toBe(true);
  });

  it('padding "=" on a segment is refused', async () => {
    const token = await sidecar.token();
    const [h, p, s] = token.split('.');
    await refusedWith(`${h}.${p}.${s}==`, 'token_malformed');
    await refusedWith(`${h}=.${p}.${s}`, 'token_malformed');
  });

  it('base64 (not url) characters "+" and "/" are refused', async () => {
    const token = await sidecar.token();
    await refusedWith(withLastChar(token, 2, '+'), 'token_malformed');
    const [h, p, s] = token.split('.');
    await refusedWith(`${h}.${p}.${s!.replace(/-/g, '+').replace(/_/g, '/')}X`, 'token_malformed');
  });

  it('invalid UTF-8 in the payload', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"iss":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    await refusedWith(signRaw(sidecar.key, JSON.stringify(header()), bytes), 'token_malformed');
  });

  it.each([
    ['a header that is a JSON array', '["ES256"]', JSON.stringify({})],
    ['a payload that is JSON null', undefined, 'null'],
    ['a payload that is not JSON', undefined, 'iss=x'],
  ])('%s', async (_name, h, p) => {
    await refusedWith(signRaw(sidecar.key, h ?? JSON.stringify(header()), p), 'token_malformed');
  });

  it('a nested JWS (cty: JWT, the payload another token) is not an access token', async () => {
    const inner = await sidecar.token();
    await refusedWith(
      signRaw(sidecar.key, JSON.stringify(header({ cty: 'JWT' })), inner),
      'token_malformed',
    );
  });

  it('a JWE (five segments) is token_malformed', async () => {
    const jwe = [encodeSegment({ alg: 'RSA-OAEP', enc: 'A256GCM' }), 'a', 'b', 'c', 'd'].join('.');
    await refusedWith(jwe, 'token_malformed');
  });

  it('empty segments', async () => {
    await refusedWith('..', 'token_malformed');
    await refusedWith(`.${encodeSegment(claims())}.`, 'token_malformed');
  });
});

describe('duplicate JSON members: the routing parse and the verification see the same value', () => {
  it('a duplicate alg in the header: the last one counts for both (none then ES256 verifies as ES256)', async () => {
    const raw = `{"alg":"none","alg":"ES256","kid":"${sidecar.key.kid}","typ":"at+jwt"}`;
    expect((await decide(signRaw(sidecar.key, raw, JSON.stringify(claims())))).allow).toBe(true);
    const reversed = `{"alg":"ES256","alg":"none","kid":"${sidecar.key.kid}","typ":"at+jwt"}`;
    await refusedWith(
      signRaw(sidecar.key, reversed, JSON.stringify(claims())),
      'algorithm_not_allowed',
    );
  });

  it('a duplicate tenant in the payload: the subject is the last one, as signed', async () => {
    const body = JSON.stringify(claims()).replace(/}$/, ',"tenant":"globex"}');
    const answer = await decide(signRaw(sidecar.key, JSON.stringify(header()), body));
    expect(answer.subject?.tenant).toBe('globex');
    const asked = await decide(signRaw(sidecar.key, JSON.stringify(header()), body), {
      tenant: 'acme_inc',
    });
    expect(asked.reasons.map((r) => r.code)).toEqual(['tenant_mismatch']);
  });
});

describe('tenant claim', () => {
  it.each([
    ['a Cyrillic "а" look-alike', 'аcme_inc'],
    ['a zero-width space', 'acme\u200b_inc'],
    ['a trailing NUL', 'acme_inc\u0000'],
    ['another Unicode normal form', 'acme_inc\u0301'],
  ])('a tenant claim with %s is another tenant', async (_name, tenant) => {
    const token = await sidecar.token({ claims: { tenant, scope: 'contacts.read' } });
    await refusedWith(token, 'tenant_mismatch', { tenant: 'acme_inc' });
  });

  it.each([
    ['a number', 7],
    ['a list', ['acme_inc']],
    ['an object', { id: 'acme_inc' }],
    ['a boolean', true],
    ['null', null],
  ])('a tenant claim that is %s is refused', async (_name, tenant) => {
    await refusedWith(
      await sidecar.token({ claims: { tenant, scope: 'contacts.read' } }),
      'claim_missing',
    );
  });
});
