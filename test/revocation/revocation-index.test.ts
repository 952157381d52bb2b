// The revocation index: each kind denies exactly the tokens it names, and nothing else.
import { describe, expect, it } from 'vitest';
import { createLifetimeRules, expiryOf } from '../../src/revocation/lifetime.js';
import { createRevocationIndex } from '../../src/revocation/revocation-index.js';
import type { RevocableSubject, RevocationEntry } from '../../src/revocation/types.js';
import { createClock } from '../helpers/tokens.js';

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0); // a whole second
const lifetime = createLifetimeRules({ defaultSeconds: 3600, toleranceSeconds: 30 });

function setup() {
  const clock = createClock(T0);
  const index = createRevocationIndex({ grantClaim: 'grant_id', lifetime, now: clock.now });
  return { clock, index };
}

let seq = 0;
function entry(partial: Partial<RevocationEntry> & Pick<RevocationEntry, 'kind'>): RevocationEntry {
  const base = {
    id: `rv_${++seq}`,
    reason: 'test',
    createdBy: 'token:00000000',
    createdAtMs: T0,
    ...(partial.kind === 'token' || partial.kind === 'grant' || partial.kind === 'actor'
      ? {}
      : { issuedBeforeMs: T0 }),
    ...partial,
  };
  const expiresAtMs = expiryOf(base, lifetime.horizonMs);
  return { ...base, ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) };
}

interface Tok {
  subject: RevocableSubject;
  claims: Record<string, unknown>;
}

/** A verified token's subject and claims; issued 10 minutes before T0 unless told otherwise. */
function tok(over: {
  tenant?: string;
  sub?: string;
  clientId?: string;
  act?: string[];
  jti?: string;
  grant?: string;
  iat?: number | null;
  exp?: number;
}): Tok {
  const iat = over.iat === undefined ? T0 / 1000 - 600 : over.iat;
  return {
    subject: {
      tenant: over.tenant ?? 'acme',
      sub: over.sub ?? 'user-1',
      clientId: over.clientId ?? 'agent-1',
      act: over.act ?? [],
      issuer: 'https://issuer.example',
    },
    claims: {
      jti: over.jti ?? 'jti-1',
      ...(over.grant !== undefined ? { grant_id: over.grant } : {}),
      ...(iat !== null ? { iat } : {}),
      exp: over.exp ?? (iat ?? T0 / 1000) + 900,
    },
  };
}

const matches = (index: ReturnType<typeof setup>['index'], t: Tok) =>
  index.match(t.subject, t.claims);

describe('revocation index', () => {
  it('matches nothing when empty', () => {
    const { index } = setup();
    expect(matches(index, tok({}))).toBeUndefined();
  });

  it('token: revokes that jti only', () => {
    const { index } = setup();
    const e = entry({ kind: 'token', value: 'jti-1' });
    index.add(e);
    expect(matches(index, tok({ jti: 'jti-1' }))).toBe(e);
    // Whatever its iat: a jti names one token.
    expect(matches(index, tok({ jti: 'jti-1', iat: T0 / 1000 + 5 }))).toBe(e);
    expect(matches(index, tok({ jti: 'jti-2' }))).toBeUndefined();
  });

  it('token with a tenant: only in that tenant', () => {
    const { index } = setup();
    index.add(entry({ kind: 'token', value: 'jti-1', tenant: 'acme' }));
    expect(matches(index, tok({ jti: 'jti-1', tenant: 'acme' }))).toBeDefined();
    expect(matches(index, tok({ jti: 'jti-1', tenant: 'globex' }))).toBeUndefined();
  });

  it('grant: every token of that grant issued before the cut-off; absolute: all of them', () => {
    const { index } = setup();
    index.add(entry({ kind: 'grant', value: 'g-1', issuedBeforeMs: T0 }));
    expect(matches(index, tok({ grant: 'g-1', jti: 'a' }))).toBeDefined();
    expect(matches(index, tok({ grant: 'g-1', jti: 'b' }))).toBeDefined();
    expect(matches(index, tok({ grant: 'g-2' }))).toBeUndefined();
    expect(matches(index, tok({}))).toBeUndefined(); // no grant claim at all
    expect(matches(index, tok({ grant: 'g-1', iat: T0 / 1000 + 1 }))).toBeUndefined();
    index.add(entry({ kind: 'grant', value: 'g-9' }));
    expect(matches(index, tok({ grant: 'g-9', iat: T0 / 1000 + 3000 }))).toBeDefined();
  });

  it('subject: that user in that tenant, issued before the cut-off', () => {
    const { index } = setup();
    const e = entry({ kind: 'subject', tenant: 'acme', value: 'user-1' });
    index.add(e);
    expect(matches(index, tok({ sub: 'user-1' }))).toBe(e);
    expect(matches(index, tok({ sub: 'user-2' }))).toBeUndefined();
    expect(matches(index, tok({ sub: 'user-1', tenant: 'globex' }))).toBeUndefined();
    // Re-consent: a token issued after the cut-off works again.
    expect(matches(index, tok({ sub: 'user-1', iat: T0 / 1000 + 1 }))).toBeUndefined();
    // At the cut-off's own second: issued at or after it.
    expect(matches(index, tok({ sub: 'user-1', iat: T0 / 1000 }))).toBeUndefined();
    expect(matches(index, tok({ sub: 'user-1', iat: T0 / 1000 - 1 }))).toBe(e);
  });

  it('a cut-off inside a second also revokes tokens issued in that second', () => {
    const { index } = setup();
    index.add(
      entry({ kind: 'subject', tenant: 'acme', value: 'user-1', issuedBeforeMs: T0 + 400 }),
    );
    // iat = T0's second may have been minted at T0+300ms (before) or T0+700ms: revoke both.
    expect(matches(index, tok({ iat: T0 / 1000 }))).toBeDefined();
    expect(matches(index, tok({ iat: T0 / 1000 + 1 }))).toBeUndefined();
  });

  it('client: that agent in that tenant only', () => {
    const { index } = setup();
    index.add(entry({ kind: 'client', tenant: 'acme', value: 'agent-1' }));
    expect(matches(index, tok({ clientId: 'agent-1' }))).toBeDefined();
    expect(matches(index, tok({ clientId: 'agent-2' }))).toBeUndefined();
    expect(matches(index, tok({ clientId: 'agent-1', tenant: 'globex' }))).toBeUndefined();
    expect(matches(index, tok({ clientId: 'agent-1', iat: T0 / 1000 + 2 }))).toBeUndefined();
  });

  it('tenant: every token of that tenant issued before the cut-off', () => {
    const { index } = setup();
    index.add(entry({ kind: 'tenant', tenant: 'acme' }));
    expect(matches(index, tok({ sub: 'anyone', clientId: 'anything' }))).toBeDefined();
    expect(matches(index, tok({ tenant: 'globex' }))).toBeUndefined();
    expect(matches(index, tok({ iat: T0 / 1000 + 1 }))).toBeUndefined();
    const noTenant = tok({});
    expect(
      index.match({ ...noTenant.subject, tenant: undefined } as RevocableSubject, noTenant.claims),
    ).toBeUndefined();
  });

  it('actor: anywhere in the act chain, in every tenant unless narrowed', () => {
    const { index } = setup();
    index.add(entry({ kind: 'actor', value: 'bad-agent' }));
    expect(matches(index, tok({ act: ['bad-agent'] }))).toBeDefined();
    expect(matches(index, tok({ act: ['front-agent', 'bad-agent', 'svc'] }))).toBeDefined();
    expect(matches(index, tok({ act: ['bad-agent'], tenant: 'globex' }))).toBeDefined();
    expect(matches(index, tok({ act: ['good-agent'] }))).toBeUndefined();
    // The actor as plain client or subject is not an actor.
    expect(matches(index, tok({ clientId: 'bad-agent', sub: 'bad-agent' }))).toBeUndefined();
    // Absolute: even tokens minted later.
    expect(matches(index, tok({ act: ['bad-agent'], iat: T0 / 1000 + 3000 }))).toBeDefined();

    index.add(entry({ kind: 'actor', value: 'mid', tenant: 'acme', issuedBeforeMs: T0 }));
    expect(matches(index, tok({ act: ['x', 'mid'] }))).toBeDefined();
    expect(matches(index, tok({ act: ['x', 'mid'], tenant: 'globex' }))).toBeUndefined();
    expect(matches(index, tok({ act: ['x', 'mid'], iat: T0 / 1000 + 1 }))).toBeUndefined();
  });

  it('without iat, a token counts as issued at exp minus the longest lifetime', () => {
    const { index } = setup();
    index.add(entry({ kind: 'subject', tenant: 'acme', value: 'user-1' }));
    // exp - 3600 < T0: could have been issued before the cut-off → revoked.
    expect(matches(index, tok({ iat: null, exp: T0 / 1000 + 3000 }))).toBeDefined();
    // exp - 3600 ≥ T0: must have been issued after it.
    expect(matches(index, tok({ iat: null, exp: T0 / 1000 + 3700 }))).toBeUndefined();
  });

  it('undo: removing one of two entries for the same key leaves the other in force', () => {
    const { index } = setup();
    const older = entry({
      kind: 'subject',
      tenant: 'acme',
      value: 'user-1',
      issuedBeforeMs: T0 - 60_000,
    });
    const newer = entry({ kind: 'subject', tenant: 'acme', value: 'user-1', issuedBeforeMs: T0 });
    index.add(older);
    index.add(newer);
    const t = tok({ iat: T0 / 1000 - 30 }); // between the two cut-offs
    expect(matches(index, t)).toBe(newer);
    expect(index.remove(newer.id)).toBe(newer);
    expect(matches(index, t)).toBeUndefined();
    expect(matches(index, tok({ iat: T0 / 1000 - 120 }))).toBe(older);
    index.remove(older.id);
    expect(index.size()).toBe(0);
    expect(matches(index, tok({ iat: T0 / 1000 - 120 }))).toBeUndefined();
  });

  it('expiry: an entry stops matching and is swept once no token it covers can be valid', () => {
    const { index, clock } = setup();
    const e = entry({ kind: 'subject', tenant: 'acme', value: 'user-1' });
    index.add(e);
    expect(e.expiresAtMs).toBe(T0 + (3600 + 60) * 1000);
    clock.set((e.expiresAtMs as number) - 1);
    expect(matches(index, tok({}))).toBe(e);
    expect(index.sweep()).toBe(0);
    clock.set(e.expiresAtMs as number);
    expect(matches(index, tok({}))).toBeUndefined();
    expect(index.get(e.id)).toBeUndefined();
    expect(index.list()).toEqual([]);
    expect(index.size()).toBe(1); // held until swept
    expect(index.sweep()).toBe(1);
    expect(index.size()).toBe(0);
  });

  it('absolute entries never expire by themselves', () => {
    const { index, clock } = setup();
    const e = entry({ kind: 'actor', value: 'bad-agent' });
    expect(e.expiresAtMs).toBeUndefined();
    index.add(e);
    clock.advance(365 * 86_400_000);
    expect(index.sweep()).toBe(0);
    expect(matches(index, tok({ act: ['bad-agent'], iat: clock.now() / 1000 }))).toBe(e);
  });

  it('adding the same id twice replaces, and replaceAll resets every kind', () => {
    const { index } = setup();
    const e = entry({ kind: 'token', value: 'jti-1' });
    index.add(e);
    index.add({ ...e, value: 'jti-2' });
    expect(index.size()).toBe(1);
    expect(matches(index, tok({ jti: 'jti-1' }))).toBeUndefined();
    expect(matches(index, tok({ jti: 'jti-2' }))).toBeDefined();
    index.replaceAll([entry({ kind: 'tenant', tenant: 'globex' })]);
    expect(matches(index, tok({ jti: 'jti-2' }))).toBeUndefined();
    expect(matches(index, tok({ tenant: 'globex' }))).toBeDefined();
  });

  it('tells listeners of the entries each add or resync brings in, after they match; a failing listener changes nothing', () => {
    const { index } = setup();
    const heard: string[][] = [];
    index.onAdded(() => {
      throw new Error('a broken listener');
    });
    const stop = index.onAdded((entries) => {
      heard.push(entries.map((e) => e.id));
      for (const e of entries) expect(index.get(e.id)).toBe(e);
    });
    const a = entry({ kind: 'token', value: 'jti-1' });
    const b = entry({ kind: 'tenant', tenant: 'globex' });
    index.add(a);
    expect(matches(index, tok({ jti: 'jti-1' }))).toBe(a);
    // A resync announces only what it brings in, not what was already enforced.
    index.replaceAll([a, b]);
    index.replaceAll([a, b]);
    expect(heard).toEqual([[a.id], [b.id]]);
    stop();
    index.add(entry({ kind: 'token', value: 'jti-2' }));
    expect(heard).toHaveLength(2);
  });

  it('lists live entries oldest first, filtered by tenant and kind', () => {
    const { index } = setup();
    const a = entry({ kind: 'subject', tenant: 'acme', value: 'u1' });
    const b = entry({ kind: 'client', tenant: 'acme', value: 'c1' });
    const c = entry({ kind: 'subject', tenant: 'globex', value: 'u1' });
    const d = entry({ kind: 'actor', value: 'x' });
    for (const e of [a, b, c, d]) index.add(e);
    expect(index.list().map((e) => e.id)).toEqual([a.id, b.id, c.id, d.id]);
    expect(index.list({ tenant: 'acme' })).toEqual([a, b]);
    expect(index.list({ kind: 'subject' })).toEqual([a, c]);
    expect(index.list({ tenant: 'acme', kind: 'client' })).toEqual([b]);
  });

  it('ignores odd claim types instead of throwing', () => {
    const { index } = setup();
    index.add(entry({ kind: 'token', value: 'jti-1' }));
    index.add(entry({ kind: 'grant', value: 'g' }));
    const t = tok({});
    expect(index.match(t.subject, { jti: 42, grant_id: ['g'], iat: 'soon' })).toBeUndefined();
  });

  it('stays O(1): a check with 100,000 entries costs about what it costs with one', () => {
    const { index } = setup();
    const t = tok({ sub: 'user-x', clientId: 'agent-x', jti: 'jti-x', act: ['a'] });
    index.add(entry({ kind: 'subject', tenant: 'other', value: 'nobody' }));
    const time = () => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 200_000; i++) matches(index, t);
      return Number(process.hrtime.bigint() - started);
    };
    const best = () => Math.min(time(), time(), time(), time(), time());
    time();
    const one = best();
    for (let i = 0; i < 100_000; i++) {
      const kind = (['token', 'grant', 'subject', 'client', 'actor'] as const)[
        i % 5
      ] as RevocationEntry['kind'];
      index.add(entry({ kind, tenant: `t${i % 100}`, value: `v${i}` }));
    }
    time();
    const many = best();
    // Generous for a loaded machine: a scan of the entries would be thousands of times slower.
    expect(many).toBeLessThan(one * 10 + 100_000_000);
  });
});
