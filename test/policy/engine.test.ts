// The engine over the shipped policies: base scope and delegation rules, acme_inc's agent rules, tenants without a policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEngine } from '../../src/policy/types.js';
import {
  SHIPPED_POLICIES,
  delegatedSubject,
  personSubject,
  policyInput,
  serviceSubject,
  startEngine,
} from './fixtures.js';

let engine: PolicyEngine;

beforeAll(async () => {
  engine = await startEngine(SHIPPED_POLICIES);
});

afterAll(async () => {
  await engine.stop();
});

describe('base policy', () => {
  it('allows an action when a token scope equals it', () => {
    const outcome = engine.evaluate(
      'globex',
      policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read'], 'globex')),
    );
    expect(outcome.allow).toBe(true);
    expect(outcome.decidedBy).toBe('base');
    expect(outcome.reasons).toEqual([]);
    expect(outcome.base.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(outcome.base.evalNs).toBeGreaterThan(0);
  });

  it('denies with insufficient_scope naming the action and the scopes that would grant it', () => {
    const outcome = engine.evaluate(
      'globex',
      policyInput('contacts.update', delegatedSubject('agent-1', ['contacts.read'], 'globex')),
    );
    expect(outcome.allow).toBe(false);
    expect(outcome.decidedBy).toBe('base');
    expect(outcome.reasons).toEqual([
      {
        code: 'insufficient_scope',
        message:
          "action 'contacts.update' needs one of the scopes: contacts.update, contacts.write",
      },
    ]);
  });

  it('grants an action through a scope mapped to it in base data', () => {
    const subject = delegatedSubject('agent-1', ['tickets.write'], 'globex');
    expect(engine.evaluate('globex', policyInput('tickets.comment', subject)).allow).toBe(true);
    // ... and through a wildcard mapping (billing.admin → billing.*).
    const admin = delegatedSubject('agent-1', ['billing.admin'], 'globex');
    expect(engine.evaluate('globex', policyInput('billing.view', admin)).allow).toBe(true);
  });

  it('denies user-delegated actions to a client-credentials token with delegation_required', () => {
    const outcome = engine.evaluate(
      'globex',
      policyInput('contacts.update', serviceSubject('agent-1', ['contacts.write'], 'globex')),
    );
    expect(outcome.allow).toBe(false);
    expect(outcome.reasons.map((r) => r.code)).toEqual(['delegation_required']);

    const selfSub = { ...serviceSubject('agent-1', ['tickets.write'], 'globex'), sub: 'agent-1' };
    expect(
      engine.evaluate('globex', policyInput('tickets.comment', selfSub)).reasons[0]?.code,
    ).toBe('delegation_required');
  });

  it('lets a client-credentials token do actions that are not user-delegated', () => {
    const outcome = engine.evaluate(
      'globex',
      policyInput('tickets.update', serviceSubject('agent-1', ['tickets.write'], 'globex')),
    );
    expect(outcome.allow).toBe(true);
  });

  it('denies by default: no action, no subject, not even an object', () => {
    for (const input of [
      { subject: { scopes: ['x'], act: [] } },
      { action: 'contacts.read' },
      null,
      'text',
      42,
    ]) {
      const outcome = engine.evaluate(undefined, input);
      expect(outcome.allow).toBe(false);
      expect(outcome.reasons.length).toBeGreaterThan(0);
    }
  });
});

describe('acme_inc tenant policy', () => {
  it('lets finance-bot view billing but not another agent', () => {
    const finance = engine.evaluate(
      'acme_inc',
      policyInput('billing.view', delegatedSubject('finance-bot', ['billing.view'])),
    );
    expect(finance.allow).toBe(true);
    expect(finance.tenant?.allow).toBe(true);
    expect(finance.tenant?.revision).toMatch(/^[0-9a-f]{12}$/);

    const other = engine.evaluate(
      'acme_inc',
      policyInput('billing.view', delegatedSubject('agent-1', ['billing.view'])),
    );
    expect(other.allow).toBe(false);
    expect(other.decidedBy).toBe('tenant');
    expect(other.base.allow).toBe(true);
    expect(other.reasons).toEqual([
      {
        code: 'policy_denied',
        message:
          "in acme_inc only the agent(s) finance-bot may perform 'billing.view', not 'agent-1'",
      },
    ]);
  });

  it('denies contacts.delete through any agent, but not to a person', () => {
    const viaAgent = engine.evaluate(
      'acme_inc',
      policyInput('contacts.delete', delegatedSubject('finance-bot', ['contacts.delete'])),
    );
    expect(viaAgent.allow).toBe(false);
    expect(viaAgent.decidedBy).toBe('tenant');
    expect(viaAgent.reasons[0]?.code).toBe('policy_denied');

    const person = engine.evaluate(
      'acme_inc',
      policyInput('contacts.delete', personSubject(['contacts.delete'])),
    );
    expect(person.allow).toBe(true);
  });

  it('runs base first: a base deny short-circuits the tenant layer', () => {
    const outcome = engine.evaluate(
      'acme_inc',
      policyInput('billing.view', delegatedSubject('finance-bot', ['contacts.read'])),
    );
    expect(outcome.decidedBy).toBe('base');
    expect(outcome.reasons[0]?.code).toBe('insufficient_scope');
    expect(outcome.tenant).toBeUndefined();
  });

  it('does not apply acme_inc rules to other tenants', () => {
    const outcome = engine.evaluate(
      'initech',
      policyInput('tickets.read', delegatedSubject('agent-1', ['tickets.read'], 'initech')),
    );
    expect(outcome.allow).toBe(true);
    const write = engine.evaluate(
      'initech',
      policyInput('tickets.update', delegatedSubject('agent-1', ['tickets.write'], 'initech')),
    );
    expect(write.allow).toBe(false);
    expect(write.decidedBy).toBe('tenant');
  });
});

describe('tenant without a policy', () => {
  it('is decided by base alone', () => {
    const input = policyInput(
      'billing.view',
      delegatedSubject('agent-1', ['billing.view'], 'globex'),
    );
    const outcome = engine.evaluate('globex', input);
    expect(outcome.allow).toBe(true);
    expect(outcome.tenant).toBeUndefined();
    // The same request in acme_inc is narrowed by its policy.
    expect(engine.evaluate('acme_inc', input).allow).toBe(false);
  });

  it('no tenant at all is decided by base alone', () => {
    const outcome = engine.evaluate(
      undefined,
      policyInput('contacts.read', personSubject(['contacts.read'])),
    );
    expect(outcome.allow).toBe(true);
    expect(outcome.tenant).toBeUndefined();
  });
});

describe('engine status', () => {
  it('reports OK with a revision per unit', () => {
    const status = engine.status();
    expect(status.state).toBe('OK');
    const revisions = engine.revisions();
    expect(revisions.base).toMatch(/^[0-9a-f]{12}$/);
    expect(Object.keys(revisions.tenants).sort()).toEqual(['acme_inc', 'initech']);
    expect(status.detail).toMatchObject({
      base: { state: 'OK', revision: revisions.base },
      tenants: { acme_inc: { state: 'OK', revision: revisions.tenants.acme_inc } },
      opa: { version: '1.22.3' },
    });
  });

  it('evaluates in tens of microseconds', () => {
    const input = policyInput('billing.view', delegatedSubject('finance-bot', ['billing.view']));
    for (let i = 0; i < 500; i++) engine.evaluate('acme_inc', input);
    const samples: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const started = process.hrtime.bigint();
      engine.evaluate('acme_inc', input);
      samples.push(Number(process.hrtime.bigint() - started));
    }
    samples.sort((a, b) => a - b);
    const medianUs = samples[samples.length >> 1]! / 1000;
    // Loose bound: CI machines are slow and shared; the point is to catch an order-of-magnitude regression.
    expect(medianUs).toBeLessThan(1000);
  });
});
