// decide() with fakes for token verification, DPoP, revocation, policy and audit: every reason code, the step order, fail-closed paths, one audit record per decision.
import { describe, expect, it } from 'vitest';
import { createDecisionRecordMaker } from '../../src/audit/decision-record.js';
import type { DecisionAuditRecord, AuditRecord } from '../../src/audit/record.js';
import type { AuditSink } from '../../src/audit/sink.js';
import { createDecider, type DeciderDeps } from '../../src/core/decide.js';
import type { Decision } from '../../src/core/decision.js';
import {
  classifyReason,
  REASON_CODES,
  type ReasonClass,
  type ReasonCode,
} from '../../src/core/reasons.js';
import type { AuthzRequest } from '../../src/core/request.js';
import type { DecideTerms } from '../../src/core/terms.js';
import type { CompatPolicy, CompatResult } from '../../src/policy/compat-types.js';
import type { PolicyEngine, PolicyOutcome, PolicyReason } from '../../src/policy/types.js';
import type { RevocationChecker, RevocationEntry } from '../../src/revocation/types.js';
import type { DpopEvidence, DpopFailure, DpopVerifier } from '../../src/token/dpop.js';
import {
  TOKEN_FAILURE_CODES,
  tokenFailure,
  type TokenFailureCode,
} from '../../src/token/errors.js';
import type { TokenVerifier, VerifiedToken, VerifyResult } from '../../src/token/types.js';

/** How the adapters present each class (401 / 403 / 400 / 503). */
const HTTP_STATUS: Record<ReasonClass, number> = {
  unauthenticated: 401,
  forbidden: 403,
  invalid: 400,
  unavailable: 503,
};

const ISSUER = 'https://issuer.test';

interface TokenSpec {
  readonly claims?: Record<string, unknown>;
  /** Served by peek() (the verified-token cache: frozen claims, decided without a promise). */
  readonly cached?: boolean;
  readonly dpopJkt?: string;
}

function verified(spec: TokenSpec): VerifiedToken {
  const claims = {
    sub: 'user_1',
    tenant: 'acme',
    client_id: 'agent-1',
    scope: 'tickets.read tickets.write',
    jti: 'jti-1',
    ...spec.claims,
  };
  return {
    ok: true,
    claims: spec.cached ? Object.freeze(claims) : claims,
    header: { alg: 'ES256', kid: 'k1' },
    issuer: ISSUER,
    expiresAtMs: Date.now() + 3_600_000,
    tokenHash: 'hash-of-token',
    cached: spec.cached === true,
    ...(spec.dpopJkt !== undefined ? { dpopJkt: spec.dpopJkt } : {}),
  };
}

/** Tokens by their text: a VerifyResult, or an Error that verify() rejects with (a bug). */
function fakeVerifier(
  tokens: Record<string, VerifyResult | Error>,
  calls: string[],
): TokenVerifier {
  return {
    verify(token) {
      calls.push('verify');
      const known = tokens[token];
      if (known === undefined) return Promise.resolve(tokenFailure('token_malformed'));
      if (known instanceof Error) return Promise.reject(known);
      return Promise.resolve(known);
    },
    peek(token) {
      calls.push('peek');
      const known = tokens[token];
      if (known !== undefined && !(known instanceof Error) && known.ok && known.cached) {
        return known;
      }
      return undefined;
    },
    start: async () => {},
    stop: async () => {},
    status: () => ({ state: 'OK' }),
  };
}

function layer(allow: boolean, reasons: PolicyReason[] = []) {
  return { allow, reasons, revision: 'rev-base', evalNs: 1000 };
}

function outcome(allow: boolean, reasons: PolicyReason[] = [], cached = false): PolicyOutcome {
  return {
    allow,
    decidedBy: 'base',
    reasons,
    base: layer(allow, reasons),
    ...(cached ? { cached: true as const } : {}),
  };
}

function fakePolicy(
  answer: (tenant: string | undefined, input: unknown) => PolicyOutcome,
  calls: string[],
): PolicyEngine {
  return {
    evaluate(tenant, input) {
      calls.push('policy');
      return answer(tenant, input);
    },
    revisions: () => ({ tenants: {} }),
    units: () => [],
    onChange: () => () => {},
    reloadFromDir: async () => {},
    start: async () => {},
    stop: async () => {},
    status: () => ({ state: 'OK' }),
  };
}

interface FakeAudit extends AuditSink {
  readonly records: DecisionAuditRecord[];
  admitting: boolean;
  commit: 'none' | 'ok' | 'fail';
  throwOnWrite: boolean;
}

function fakeAudit(calls: string[]): FakeAudit {
  const records = createDecisionRecordMaker();
  const audit: FakeAudit = {
    records: [],
    admitting: true,
    commit: 'none',
    throwOnWrite: false,
    write(record: AuditRecord) {
      if (record.type === 'decision') audit.records.push(record);
    },
    writeDecision(facts) {
      calls.push('audit');
      if (audit.throwOnWrite) throw new Error('audit write failed');
      audit.records.push(records.recordOf(facts));
    },
    flush: async () => {},
    close: async () => {},
    admits: () => audit.admitting,
    committed() {
      if (audit.commit === 'none') return undefined;
      return audit.commit === 'ok' ? Promise.resolve() : Promise.reject(new Error('not on disk'));
    },
  };
  return audit;
}

const REVOCATION: RevocationEntry = {
  id: 'rv_1',
  kind: 'token',
  value: 'jti-1',
  reason: 'stolen',
  createdBy: 'token:abcd',
  createdAtMs: 0,
} as RevocationEntry;

interface Setup {
  tokens?: Record<string, VerifyResult | Error>;
  policy?: (tenant: string | undefined, input: unknown) => PolicyOutcome;
  revoked?: RevocationEntry | Error;
  dpop?: DpopFailure | Error;
  compat?: CompatResult | Error | 'none';
  maxNestingDepth?: number;
}

function setup(s: Setup = {}) {
  const calls: string[] = [];
  const errors: unknown[] = [];
  const audit = fakeAudit(calls);
  const revocation: RevocationChecker = {
    match() {
      calls.push('revocation');
      if (s.revoked instanceof Error) throw s.revoked;
      return s.revoked;
    },
  };
  const dpop: DpopVerifier = {
    verify(_evidence, _token, _jkt) {
      calls.push('dpop');
      if (s.dpop instanceof Error) return Promise.reject(s.dpop);
      return Promise.resolve(s.dpop);
    },
  };
  const compat: CompatPolicy = {
    evaluate() {
      calls.push('compat');
      if (s.compat instanceof Error) throw s.compat;
      return s.compat as CompatResult;
    },
    revision: () => 'rev-compat',
    start: async () => {},
    stop: async () => {},
    status: () => ({ state: 'OK' }),
  };
  const deps: DeciderDeps = {
    verifier: fakeVerifier(
      s.tokens ?? { good: verified({}), cached: verified({ cached: true }) },
      calls,
    ),
    policy: fakePolicy(s.policy ?? (() => outcome(true)), calls),
    audit,
    tenancy: { claim: 'tenant' } as DeciderDeps['tenancy'],
    revocation,
    dpop,
    ...(s.compat !== undefined && s.compat !== 'none' ? { compat } : {}),
    ...(s.maxNestingDepth !== undefined ? { maxNestingDepth: s.maxNestingDepth } : {}),
    onError: (err) => errors.push(err),
  };
  return { decider: createDecider(deps), calls, audit, errors };
}

function ask(over: Partial<AuthzRequest> = {}): AuthzRequest {
  return {
    token: 'good',
    action: 'tickets.read',
    resource: { type: 'ticket', id: 'T-1' },
    transport: 'http',
    ...over,
  };
}

function deny(code: ReasonCode, message = 'no'): PolicyOutcome {
  return outcome(false, [{ code, message }]);
}

/** Every code the pipeline can return, with a way to reach it. */
interface Scenario {
  readonly setup: Setup;
  readonly request: AuthzRequest;
  readonly terms?: DecideTerms;
}

const SCENARIOS: Record<ReasonCode, () => Scenario> = {
  ...(Object.fromEntries(
    TOKEN_FAILURE_CODES.map((code: TokenFailureCode) => [
      code,
      (): Scenario => ({
        setup: { tokens: { bad: tokenFailure(code) } },
        request: ask({ token: 'bad' }),
      }),
    ]),
  ) as unknown as Record<TokenFailureCode, () => Scenario>),
  token_missing: () => ({ setup: {}, request: ask({ token: undefined }) }),
  token_binding_unverified: () => ({
    setup: { tokens: { bound: verified({ dpopJkt: 'jkt-1' }) } },
    request: ask({ token: 'bound' }),
  }),
  tenant_mismatch: () => ({ setup: {}, request: ask({ tenant: 'globex' }) }),
  insufficient_scope: () => ({
    setup: { policy: () => deny('insufficient_scope') },
    request: ask(),
  }),
  delegation_required: () => ({
    setup: { policy: () => deny('delegation_required') },
    request: ask(),
  }),
  policy_denied: () => ({ setup: { policy: () => deny('policy_denied') }, request: ask() }),
  internal_error: () => ({
    setup: {
      policy: () => {
        throw new Error('engine bug');
      },
    },
    request: ask(),
  }),
  route_unmapped: () => ({
    setup: {},
    request: ask(),
    terms: { refusal: { code: 'route_unmapped', message: 'no route maps GET /x' } },
  }),
  request_invalid: () => ({
    setup: { maxNestingDepth: 2 },
    request: ask({ context: { a: { b: { c: 1 } } } }),
  }),
  revoked: () => ({ setup: { revoked: REVOCATION }, request: ask() }),
  audit_unavailable: () => ({ setup: {}, request: ask() }),
};

const EXPECTED_CLASS: Record<ReasonCode, ReasonClass> = {
  token_missing: 'unauthenticated',
  token_malformed: 'unauthenticated',
  token_expired: 'unauthenticated',
  token_not_yet_valid: 'unauthenticated',
  token_invalid_signature: 'unauthenticated',
  algorithm_not_allowed: 'unauthenticated',
  token_type_invalid: 'unauthenticated',
  issuer_unknown: 'unauthenticated',
  audience_mismatch: 'unauthenticated',
  claim_missing: 'unauthenticated',
  key_not_found: 'unauthenticated',
  jwks_unavailable: 'unavailable',
  token_binding_unverified: 'unauthenticated',
  claim_invalid: 'unauthenticated',
  tenant_mismatch: 'forbidden',
  insufficient_scope: 'forbidden',
  delegation_required: 'forbidden',
  policy_denied: 'forbidden',
  internal_error: 'unavailable',
  route_unmapped: 'forbidden',
  request_invalid: 'invalid',
  revoked: 'unauthenticated',
  audit_unavailable: 'unavailable',
};

describe('decide(): every reason code', () => {
  it('has a scenario for every code of the closed set', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual([...REASON_CODES].sort());
  });

  for (const code of REASON_CODES) {
    it(`reaches ${code} (${EXPECTED_CLASS[code]}, HTTP ${HTTP_STATUS[EXPECTED_CLASS[code]]})`, async () => {
      const scenario = SCENARIOS[code]();
      const { decider, audit } = setup(scenario.setup);
      if (code === 'audit_unavailable') audit.admitting = false;
      const decision = await (scenario.terms
        ? decider.decideWith(scenario.request, scenario.terms)
        : decider.decide(scenario.request));
      expect(decision.allow).toBe(false);
      expect(decision.reasons[0]?.code).toBe(code);
      expect(classifyReason(code)).toBe(EXPECTED_CLASS[code]);
      // Exactly one audit record, the denial's, with its id and reasons.
      expect(audit.records).toHaveLength(1);
      expect(audit.records[0]?.decision_id).toBe(decision.decisionId);
      expect(audit.records[0]?.allow).toBe(false);
      expect(audit.records[0]?.reasons).toEqual(decision.reasons);
    });
  }
});

describe('decide(): the steps and their order', () => {
  it('allows through verify, revocation and policy, in that order, then audits', async () => {
    const { decider, calls, audit } = setup();
    const decision = await decider.decide(ask());
    expect(decision.allow).toBe(true);
    expect(decision.reasons).toEqual([]);
    expect(decision.decidedBy).toBe('base');
    expect(decision.subject).toMatchObject({ sub: 'user_1', tenant: 'acme', clientId: 'agent-1' });
    expect(calls).toEqual(['peek', 'verify', 'revocation', 'policy', 'audit']);
    const record = audit.records[0] as DecisionAuditRecord;
    expect(record).toMatchObject({
      type: 'decision',
      allow: true,
      transport: 'http',
      action: 'tickets.read',
      resource: { type: 'ticket', id: 'T-1' },
      tenant: 'acme',
      sub: 'user_1',
      client_id: 'agent-1',
      iss: ISSUER,
      jti: 'jti-1',
      token_hash: 'hash-of-token',
      decided_by: 'base',
      policy: { base: 'rev-base' },
      eval_ns: 1000,
    });
    expect(record.input).toMatchObject({ action: 'tickets.read', tenant: 'acme' });
  });

  it('answers a token failure before revocation and policy', async () => {
    const { decider, calls } = setup({
      tokens: { bad: tokenFailure('token_expired') },
      revoked: REVOCATION,
    });
    const decision = await decider.decide(ask({ token: 'bad' }));
    expect(decision.reasons[0]?.code).toBe('token_expired');
    expect(calls).toEqual(['peek', 'verify', 'audit']);
  });

  it('answers a revocation before the tenant guard and policy', async () => {
    const { decider, calls, audit } = setup({ revoked: REVOCATION });
    const decision = await decider.decide(ask({ tenant: 'globex' }));
    expect(decision.reasons).toEqual([
      { code: 'revoked', message: 'the access token has been revoked' },
    ]);
    expect(calls).toEqual(['peek', 'verify', 'revocation', 'audit']);
    // Which entry matched goes to audit only.
    expect(audit.records[0]?.revocation).toEqual({ id: 'rv_1', kind: 'token' });
    expect(JSON.stringify(decision)).not.toContain('rv_1');
  });

  it('answers a tenant mismatch before policy', async () => {
    const { decider, calls } = setup();
    const decision = await decider.decide(ask({ tenant: 'globex' }));
    expect(decision.reasons[0]?.code).toBe('tenant_mismatch');
    expect(calls).not.toContain('policy');
  });

  it('answers a bad token before an adapter denial, and the denial before policy', async () => {
    const refusal = { code: 'route_unmapped' as const, message: 'no route' };
    const bad = setup({ tokens: { bad: tokenFailure('token_invalid_signature') } });
    const first = await bad.decider.decideWith(ask({ token: 'bad' }), { refusal });
    expect(first.reasons[0]?.code).toBe('token_invalid_signature');
    const missing = await bad.decider.decideWith(ask({ token: undefined }), { refusal });
    expect(missing.reasons[0]?.code).toBe('token_missing');

    const good = setup({ revoked: REVOCATION });
    const revoked = await good.decider.decideWith(ask(), { refusal });
    expect(revoked.reasons[0]?.code).toBe('revoked');

    const mismatch = setup();
    const other = await mismatch.decider.decideWith(ask({ tenant: 'globex' }), { refusal });
    expect(other.reasons[0]?.code).toBe('tenant_mismatch');

    const plain = setup();
    const refused = await plain.decider.decideWith(ask(), { refusal });
    expect(refused.allow).toBe(false);
    expect(refused.reasons).toEqual([refusal]);
    expect(plain.calls).not.toContain('policy');
    expect(plain.audit.records).toHaveLength(1);
  });

  it('refuses a tenant claim that is not a string before revocation (claim_missing)', async () => {
    const { decider, calls } = setup({ tokens: { odd: verified({ claims: { tenant: 7 } }) } });
    const decision = await decider.decide(ask({ token: 'odd' }));
    expect(decision.reasons[0]).toEqual({
      code: 'claim_missing',
      message: 'the tenant claim must be a string',
    });
    expect(calls).not.toContain('revocation');
  });

  it('bounds nesting before the token is even looked at', async () => {
    const { decider, calls, audit } = setup({ maxNestingDepth: 2 });
    const decision = await decider.decide(
      ask({ resource: { type: 't', attributes: { a: { b: { c: 1 } } } } }),
    );
    expect(decision.reasons[0]).toEqual({
      code: 'request_invalid',
      message: 'resource.attributes: nests deeper than 2 levels',
    });
    expect(calls).toEqual(['audit']);
    expect(audit.records[0]?.input).toEqual({
      action: 'tickets.read',
      resource: { type: 't' },
      transport: 'http',
    });
    expect(audit.records[0]?.token_hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('maps policy codes into the closed set: unknown and pipeline-owned codes become policy_denied', async () => {
    for (const code of ['made_up', 'token_expired', 'internal_error', 7]) {
      const { decider } = setup({
        policy: () => outcome(false, [{ code: code as string, message: 'x' }]),
      });
      const decision = await decider.decide(ask());
      expect(decision.reasons).toEqual([{ code: 'policy_denied', message: 'x' }]);
    }
    const { decider } = setup({ policy: () => outcome(false, []) });
    const decision = await decider.decide(ask());
    expect(decision.reasons).toEqual([{ code: 'policy_denied', message: 'denied by policy' }]);
  });
});

describe('decide(): DPoP', () => {
  const evidence: DpopEvidence = { scheme: 'dpop', proof: 'proof', request: undefined };

  it('refuses a bound token without a proof, and checks a proof when one came', async () => {
    const tokens = { bound: verified({ dpopJkt: 'jkt-1', claims: { cnf: { jkt: 'jkt-1' } } }) };
    const none = setup({ tokens });
    const noProof = await none.decider.decide(ask({ token: 'bound' }));
    expect(noProof.reasons[0]?.code).toBe('token_binding_unverified');
    expect(noProof.dpopError).toBeUndefined();

    const bad = setup({ tokens, dpop: { error: 'invalid_dpop_proof', message: 'stale' } });
    const refused = await bad.decider.decide(ask({ token: 'bound', dpop: evidence }));
    expect(refused.reasons).toEqual([{ code: 'token_binding_unverified', message: 'stale' }]);
    expect(refused.dpopError).toBe('invalid_dpop_proof');

    const good = setup({ tokens });
    const allowed = await good.decider.decide(ask({ token: 'bound', dpop: evidence }));
    expect(allowed.allow).toBe(true);
    expect(good.calls).toEqual(['peek', 'verify', 'dpop', 'revocation', 'policy', 'audit']);
  });

  it('refuses the DPoP scheme with a token that is not bound', async () => {
    const { decider, calls } = setup();
    const decision = await decider.decide(ask({ dpop: evidence }));
    expect(decision.reasons[0]?.code).toBe('token_binding_unverified');
    expect(decision.dpopError).toBe('invalid_token');
    expect(calls).not.toContain('dpop');
  });
});

describe('decide(): fail closed', () => {
  const cases: [string, Setup][] = [
    ['verify() rejects', { tokens: { good: new Error('verifier bug') } }],
    ['revocation throws', { revoked: new Error('store bug') }],
    [
      'policy throws',
      {
        policy: () => {
          throw new Error('engine bug');
        },
      },
    ],
    ['the DPoP verifier rejects', { dpop: new Error('dpop bug') }],
    ['the compatibility policy throws', { compat: new Error('compat bug') }],
  ];
  for (const [name, s] of cases) {
    it(`denies with internal_error when ${name}, reports it, and audits`, async () => {
      const { decider, errors, audit } = setup({
        ...s,
        ...(name.includes('DPoP')
          ? { tokens: { good: verified({ dpopJkt: 'j', claims: { cnf: { jkt: 'j' } } }) } }
          : {}),
      });
      const request = ask(
        name.includes('DPoP') ? { dpop: { scheme: 'dpop', proof: 'p', request: undefined } } : {},
      );
      const terms: DecideTerms = name.includes('compat')
        ? { compatDocument: { attributes: {} } }
        : {};
      const decision = await decider.decideWith(request, terms);
      expect(decision).toMatchObject({
        allow: false,
        reasons: [{ code: 'internal_error', message: 'the decision could not be evaluated' }],
      });
      expect(errors).toHaveLength(1);
      expect(audit.records).toHaveLength(1);
      expect(audit.records[0]?.allow).toBe(false);
    });
  }

  it('denies a compatibility request when no compatibility policy is configured', async () => {
    const { decider } = setup({ compat: 'none' });
    const decision = await decider.decideWith(ask(), { compatDocument: { attributes: {} } });
    expect(decision.reasons[0]?.code).toBe('internal_error');
  });

  it('turns an allow the audit sink does not admit into audit_unavailable', async () => {
    const { decider, audit } = setup();
    audit.admitting = false;
    const decision = await decider.decide(ask());
    expect(decision.reasons[0]?.code).toBe('audit_unavailable');
    expect(audit.records[0]?.allow).toBe(false);
  });

  it('turns an allow whose record did not commit into audit_unavailable, same decision id', async () => {
    const { decider, audit } = setup();
    audit.commit = 'fail';
    const decision = await decider.decide(ask());
    expect(decision.allow).toBe(false);
    expect(decision.reasons[0]?.code).toBe('audit_unavailable');
    expect(decision.decisionId).toBe(audit.records[0]?.decision_id);
    // The record says what was decided before the write failed.
    expect(audit.records[0]?.allow).toBe(true);

    const ok = setup();
    ok.audit.commit = 'ok';
    expect((await ok.decider.decide(ask())).allow).toBe(true);
  });

  it('keeps the decision when writing its audit record throws (reported, not thrown)', async () => {
    const { decider, audit, errors } = setup();
    audit.throwOnWrite = true;
    const decision = await decider.decide(ask());
    expect(decision.allow).toBe(true);
    expect(errors).toHaveLength(1);
  });
});

describe('decide(): cached tokens', () => {
  it('decides a cached token without a promise, with one frozen subject for every hit', () => {
    const { decider, calls } = setup();
    const first = decider.decide(ask({ token: 'cached' })) as Decision;
    const second = decider.decide(ask({ token: 'cached' })) as Decision;
    expect(first).not.toBeInstanceOf(Promise);
    expect(first.allow).toBe(true);
    expect(second.subject).toBe(first.subject);
    expect(Object.isFrozen(first.subject)).toBe(true);
    expect(calls.filter((c) => c === 'verify')).toHaveLength(0);
  });

  it('shares the verdict of a cached policy outcome, and records it as policy_cached', () => {
    const cachedDeny = outcome(false, [{ code: 'insufficient_scope', message: 'no' }], true);
    const { decider, audit } = setup({ policy: () => cachedDeny });
    const a = decider.decide(ask({ token: 'cached' })) as Decision;
    const b = decider.decide(ask({ token: 'cached' })) as Decision;
    expect(a.reasons).toBe(b.reasons);
    expect(Object.isFrozen(a.reasons)).toBe(true);
    expect(audit.records[0]?.policy_cached).toBe(true);
    expect(audit.records[0]?.eval_ns).toBeUndefined();
    expect(a.decisionId).not.toBe(b.decisionId);
  });

  it('keeps its memo tables per decider, not per module', () => {
    const claims = Object.freeze({ sub: 'user_1', tenant: 'acme' });
    const token = { ...verified({ cached: true }), claims };
    const a = setup({ tokens: { cached: token } }).decider.decide(ask({ token: 'cached' }));
    const b = setup({ tokens: { cached: token } }).decider.decide(ask({ token: 'cached' }));
    expect((a as Decision).subject).toEqual((b as Decision).subject);
    expect((a as Decision).subject).not.toBe((b as Decision).subject);
  });

  it('hands the policy a cache key that tells questions apart', () => {
    const keys: (string | undefined)[] = [];
    const calls: string[] = [];
    const audit = fakeAudit(calls);
    const decider = createDecider({
      verifier: fakeVerifier({ cached: verified({ cached: true }) }, calls),
      policy: {
        ...fakePolicy(() => outcome(true), calls),
        evaluate(_tenant, _input, key) {
          keys.push(key?.key);
          return outcome(true);
        },
      },
      audit,
      tenancy: { claim: 'tenant' } as DeciderDeps['tenancy'],
    });
    decider.decide(ask({ token: 'cached' }));
    decider.decide(ask({ token: 'cached' }));
    decider.decide(ask({ token: 'cached', resource: { type: 'ticket', id: 'T-2' } }));
    decider.decide(ask({ token: 'cached', context: { a: 1 } }));
    decider.decide(ask({ token: 'cached', context: {} }));
    expect(keys[0]).toBe(keys[1]);
    expect(new Set([keys[0], keys[2], keys[3]]).size).toBe(3);
    // An empty context is the same question as none.
    expect(keys[4]).toBe(keys[0]);
  });
});

describe('decide(): compatibility policy and dry-run', () => {
  it('evaluates the compatibility policy over the document plus what was verified', async () => {
    const result: CompatResult = {
      allow: false,
      reasons: [{ code: 'policy_denied', message: 'compat says no' }],
      result: { allowed: false, http_status: 418 },
      revision: 'rev-compat',
      evalNs: 5,
    };
    const { decider, calls, audit } = setup({ compat: result });
    const decision = await decider.decideWith(ask(), {
      compatDocument: { attributes: { x: 1 }, version: { a: 1 } },
    });
    expect(calls).toContain('compat');
    expect(calls).not.toContain('policy');
    expect(decision).toMatchObject({
      allow: false,
      decidedBy: 'compat',
      policyResult: { allowed: false, http_status: 418 },
      reasons: [{ code: 'policy_denied', message: 'compat says no' }],
    });
    expect(audit.records[0]?.input).toMatchObject({
      attributes: { x: 1 },
      action: 'tickets.read',
      tenant: 'acme',
      subject: { sub: 'user_1' },
      token: { sub: 'user_1' },
    });
    expect(audit.records[0]?.policy).toEqual({ compat: 'rev-compat' });
  });

  it('records dry-run under a rule for all, or for a listed tenant once the token verified', async () => {
    const { decider, audit } = setup({
      tokens: { good: verified({}), bad: tokenFailure('token_expired') },
    });
    const all = { all: true, tenants: new Set<string>() };
    const acme = { all: false, tenants: new Set(['acme']) };
    const globex = { all: false, tenants: new Set(['globex']) };
    const decisions = [
      await decider.decideWith(ask(), { dryRun: all }),
      await decider.decideWith(ask(), { dryRun: acme }),
      await decider.decideWith(ask(), { dryRun: globex }),
      await decider.decideWith(ask({ token: 'bad', tenant: 'acme' }), { dryRun: acme }),
      await decider.decide(ask()),
    ];
    expect(audit.records.map((r) => r.dry_run)).toEqual([
      true,
      true,
      undefined,
      undefined,
      undefined,
    ]);
    expect(decisions.map((d) => d.dryRun)).toEqual([true, true, undefined, undefined, undefined]);
  });

  it('bounds the nesting of a compatibility document before the token, naming it input', async () => {
    const { decider, calls } = setup({ maxNestingDepth: 2, compat: 'none' });
    const decision = await decider.decideWith(ask(), {
      compatDocument: { a: { b: { c: 1 } } },
      refusal: { code: 'route_unmapped', message: 'no route' },
    });
    expect(decision.reasons[0]).toEqual({
      code: 'request_invalid',
      message: 'input: nests deeper than 2 levels',
    });
    expect(calls).toEqual(['audit']);
  });
});
