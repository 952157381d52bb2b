// fast-check generators for the fuzz suite: mutated tokens, /v1/check bodies, gRPC and Envoy requests and paths.
import fc from 'fast-check';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Valid tokens the generators start from. */
export interface TokenPool {
  readonly valid: readonly string[];
  /** Also put valid tokens in object keys of documents (audit must mask keys too). */
  readonly tokensAsKeys?: boolean;
}

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  );
}

function decodeJson(segment: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

const anyJsonValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }),
);

const headerEdits = fc.record(
  {
    alg: fc.constantFrom('none', 'None', 'HS256', 'RS256', 'ES384', 'PS256', '', 'ES256', 7),
    kid: fc.oneof(
      fc.string(),
      fc.constantFrom('../../etc/passwd', "' OR 1=1 --", 'x\u0000y'),
      fc.integer(),
    ),
    typ: fc.constantFrom('JWT', 'at+jwt', 'application/at+jwt', 'AT+JWT', '', 1),
    crit: fc.constantFrom(['b64'], ['exp'], [], 'b64'),
    b64: fc.boolean(),
    jku: fc.constant('http://127.0.0.1:9/jwks'),
    jwk: fc.constant({ kty: 'oct', k: 'AAAA' }),
    cty: fc.constantFrom('JWT', 'json'),
  },
  { requiredKeys: [] },
);

const claimEdits = fc.record(
  {
    iss: fc.oneof(
      fc.constantFrom('https://issuer.example/', 'https://evil.example', ''),
      fc.string(),
    ),
    sub: fc.oneof(fc.constantFrom('admin', 'user-2', ''), fc.string()),
    aud: fc.oneof(fc.constantFrom('billing-api', ['x'], ''), fc.string()),
    exp: fc.oneof(fc.integer(), fc.constant('9999999999'), fc.constant(1e300)),
    nbf: fc.integer({ min: 0, max: 4_000_000_000 }),
    iat: fc.integer({ min: 0, max: 4_000_000_000 }),
    scope: fc.oneof(
      fc.constantFrom('contacts.write tickets.write billing.admin', 'admin', '*'),
      fc.string(),
    ),
    tenant: fc.oneof(fc.constantFrom('initech', 'globex', 'аcme_inc'), anyJsonValue),
    client_id: fc.string(),
    act: anyJsonValue,
    cnf: fc.constant({ jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' }),
  },
  { requiredKeys: [] },
);

/**
 * A token: one of the valid ones as is, or mutated — characters replaced, inserted or cut, parts
 * swapped between tokens, header or claims edited with the old signature kept, non-canonical
 * base64url spellings, or unrelated strings.
 */
export function tokenArbitrary(pool: TokenPool): fc.Arbitrary<string | undefined> {
  const valid = fc.constantFrom(...pool.valid);
  const mutated = fc.oneof(
    // Replace characters.
    fc
      .tuple(
        valid,
        fc.array(
          fc.tuple(fc.nat(), fc.constantFrom(...B64URL, '.', '=', '+', '/', ' ', '\u00e9')),
          { minLength: 1, maxLength: 4 },
        ),
      )
      .map(([t, edits]) => {
        const chars = [...t];
        for (const [at, c] of edits) chars[at % chars.length] = c;
        return chars.join('');
      }),
    // Cut or extend.
    fc
      .tuple(valid, fc.nat(), fc.string({ maxLength: 8 }))
      .map(([t, at, tail]) => t.slice(0, at % t.length) + tail),
    fc
      .tuple(valid, fc.constantFrom('.', '..', '.x', '=', '==', ' ', '\t', 'A'))
      .map(([t, tail]) => t + tail),
    // Splice parts of two tokens.
    fc.tuple(valid, valid, fc.integer({ min: 0, max: 2 })).map(([a, b, i]) => {
      const pa = a.split('.');
      pa[i] = b.split('.')[i] as string;
      return pa.join('.');
    }),
    // Edit the header or the claims, keeping the signature.
    fc.tuple(valid, headerEdits).map(([t, edits]) => {
      const [h, p, s] = t.split('.') as [string, string, string];
      return `${b64({ ...decodeJson(h), ...edits })}.${p}.${s}`;
    }),
    fc.tuple(valid, claimEdits).map(([t, edits]) => {
      const [h, p, s] = t.split('.') as [string, string, string];
      return `${h}.${b64({ ...decodeJson(p), ...edits })}.${s}`;
    }),
    // Drop or empty the signature (alg none style).
    fc.tuple(valid, headerEdits).map(([t, edits]) => {
      const [h, p] = t.split('.') as [string, string];
      return `${b64({ ...decodeJson(h), ...edits })}.${p}.`;
    }),
    // Non-canonical spellings of the same bytes.
    fc
      .tuple(valid, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 15 }))
      .map(([t, i, bits]) => {
        const parts = t.split('.');
        const seg = parts[i] as string;
        const last = B64URL.indexOf(seg[seg.length - 1] as string);
        parts[i] = seg.slice(0, -1) + (B64URL[(last | bits) & 63] as string);
        return parts.join('.');
      }),
    fc.tuple(valid, fc.integer({ min: 0, max: 2 })).map(([t, i]) => {
      const parts = t.split('.');
      parts[i] = `${parts[i]}=`;
      return parts.join('.');
    }),
    valid.map((t) => t.replace(/-/g, '+').replace(/_/g, '/')),
    // Unrelated strings.
    fc.string({ maxLength: 64 }),
    fc
      .array(fc.string({ unit: fc.constantFrom(...B64URL) }), { minLength: 1, maxLength: 6 })
      .map((p) => p.join('.')),
  );
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    { weight: 8, arbitrary: mutated },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Actions the fuzz asks for: the ones the oracle knows, plus arbitrary strings. */
export const KNOWN_ACTIONS = [
  'contacts.read',
  'contacts.update',
  'contacts.create',
  'contacts.delete',
  'tickets.read',
  'tickets.write',
  'tickets.create',
  'tickets.update',
  'tickets.comment',
  'billing.view',
  'billing.admin',
  'admin.delete',
] as const;

const action = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN_ACTIONS) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
);

/** A JSON document for `context` / `attributes`, now and then holding a valid token somewhere (audit must mask it). */
function documentArbitrary(pool: TokenPool): fc.Arbitrary<Record<string, unknown>> {
  const leaf = fc.oneof(
    { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(...pool.valid) },
    { weight: 1, arbitrary: fc.constantFrom(...pool.valid).map((t) => `Bearer ${t}`) },
  );
  const key = pool.tokensAsKeys
    ? fc.oneof(
        { weight: 6, arbitrary: fc.string({ maxLength: 10 }) },
        { weight: 1, arbitrary: fc.constantFrom(...pool.valid) },
      )
    : fc.string({ maxLength: 10 });
  return fc.dictionary(
    key,
    fc.oneof(leaf, fc.dictionary(fc.string({ maxLength: 6 }), leaf, { maxKeys: 3 })),
    { maxKeys: 5 },
  );
}

export interface CheckInput {
  readonly token: string | undefined;
  /** Where the token goes: the JSON body, the Authorization header (with a scheme), or both. */
  readonly placement: 'body' | 'header' | 'both';
  readonly scheme: string;
  readonly body: Record<string, unknown>;
  /** When set, sent instead of the JSON of `body` (broken JSON, other shapes). */
  readonly raw?: string;
}

export function checkInputArbitrary(pool: TokenPool): fc.Arbitrary<CheckInput> {
  const doc = documentArbitrary(pool);
  return fc.record(
    {
      token: tokenArbitrary(pool),
      placement: fc.constantFrom('body', 'header', 'header', 'both'),
      scheme: fc.constantFrom('Bearer ', 'Bearer ', 'bearer ', 'Bearer  ', 'DPoP ', 'Basic ', ''),
      body: fc.record(
        {
          action,
          resource: fc.record(
            {
              type: fc.string({ maxLength: 12 }),
              id: fc.string({ maxLength: 12 }),
              attributes: doc,
            },
            { requiredKeys: ['type'] },
          ),
          tenant: fc.constantFrom('acme_inc', 'globex', 'initech', '', 'ACME_INC'),
          context: doc,
          extra: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: ['action'] },
      ),
      raw: fc.oneof(
        { weight: 12, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
        {
          weight: 1,
          arbitrary: fc
            .integer({ min: 60, max: 3000 })
            .map(
              (d) => `{"action":"contacts.read","context":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`,
            ),
        },
      ),
    },
    { requiredKeys: ['token', 'placement', 'scheme', 'body'] },
  );
}

export interface GrpcInput {
  readonly token: string | undefined;
  readonly inMetadata: boolean;
  readonly action: string;
  readonly tenant: string;
  readonly resource?: { type: string; id: string; attributes?: Record<string, unknown> };
  readonly context?: Record<string, unknown>;
  readonly requestId: string;
}

export function grpcInputArbitrary(pool: TokenPool): fc.Arbitrary<GrpcInput> {
  const doc = documentArbitrary(pool);
  return fc.record(
    {
      token: tokenArbitrary(pool),
      inMetadata: fc.boolean(),
      action: fc.oneof(action, fc.constant('')),
      tenant: fc.constantFrom('', 'acme_inc', 'globex', 'x'.repeat(300)),
      resource: fc.record(
        { type: fc.string({ maxLength: 12 }), id: fc.string({ maxLength: 12 }), attributes: doc },
        { requiredKeys: ['type', 'id'] },
      ),
      context: doc,
      requestId: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: ['token', 'inMetadata', 'action', 'tenant', 'requestId'] },
  );
}

/** Paths around the mapped routes: encodings, dot segments, backslashes, doubled slashes, queries. */
export const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '/v1/contacts',
    '/v1/contacts/',
    '/v1/contacts?x=1',
    '/v1/%63ontacts',
    '/v1/contacts/..',
    '/v1/contacts/../admin',
    '/v1/./contacts',
    '//v1/contacts',
    '/v1//contacts',
    '/v1/contacts%2F..%2Fadmin',
    '/v1/tickets/T-1/comments',
    '/v1/tickets/../comments',
    '/v1/tickets/%2e%2e/comments',
    '/v1/tickets/a%2Fb/comments',
    '/v1/tickets//comments',
    '/v1/contacts#frag',
    '/V1/CONTACTS',
    '/v1/contacts%00',
    '/v1/contacts;x=1',
    '/',
    '*',
  ),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'v1',
          'contacts',
          'tickets',
          'T-1',
          'comments',
          '..',
          '.',
          '',
          '%2e',
          '%2F',
          '%',
          '%zz',
          ';',
          'admin',
        ),
        fc.string({ maxLength: 6 }),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .chain((segments) =>
      fc
        .tuple(fc.constantFrom('', '?a=1', '?a=%zz&b', '#x'), fc.constantFrom('/', '/', '\\'))
        .map(([tail, sep]) => `/${segments.join(sep)}${tail}`),
    ),
);

export interface EnvoyInput {
  readonly token: string | undefined;
  readonly scheme: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export function envoyInputArbitrary(pool: TokenPool): fc.Arbitrary<EnvoyInput> {
  return fc.record(
    {
      token: tokenArbitrary(pool),
      scheme: fc.constantFrom('Bearer ', 'Bearer ', 'bearer ', 'DPoP ', 'Basic ', ''),
      method: fc.constantFrom(
        'GET',
        'get',
        'POST',
        'PATCH',
        'HEAD',
        'DELETE',
        'OPTIONS',
        'G\u0130T',
      ),
      path: pathArbitrary,
      headers: fc.dictionary(
        fc.oneof(
          fc.constantFrom(
            'x-mandate-subject',
            'x-mandate-tenant',
            'x-forwarded-host',
            'content-type',
            'x-tenant',
            'dpop',
            'x-http-method-override',
            'x-http-method',
            'x-method-override',
          ),
          fc.string({
            unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-'),
            minLength: 1,
            maxLength: 12,
          }),
        ),
        fc.oneof(
          fc.constantFrom('admin', 'GET', 'POST', 'DELETE', 'get', 'application/json', 'globex'),
          fc.string({
            unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789 ;=/-'),
            maxLength: 20,
          }),
        ),
        { maxKeys: 4 },
      ),
      body: fc.oneof(fc.json({ maxDepth: 3 }), fc.string({ maxLength: 40 })),
    },
    { requiredKeys: ['token', 'scheme', 'method', 'path', 'headers'] },
  );
}
