// Normalises verified JWT claims into the subject policies and callers see: scopes as a list, `act` as a chain.
import { intern } from '../lib/interned.js';
import { MAX_ACT_DEPTH } from '../token/claims.js';
import type { VerifiedToken } from '../token/types.js';
import type { Subject } from './decision.js';

/** `scope` is a space-delimited string (RFC 9068 / RFC 8693); some issuers send `scp` as an array. */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const scope = claims['scope'];
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s.length > 0);
  const scp = claims['scp'] ?? scope;
  if (Array.isArray(scp))
    return scp.filter((s): s is string => typeof s === 'string' && s.length > 0);
  return [];
}

/**
 * Flattens nested `act` claims (RFC 8693 §4.1) into actor subjects, outermost (current actor) first.
 * Verification refuses a chain this would read in part (checkClaims, `claim_invalid`).
 */
export function actChainOf(claims: Readonly<Record<string, unknown>>): string[] {
  const chain: string[] = [];
  let act = claims['act'];
  while (typeof act === 'object' && act !== null && chain.length < MAX_ACT_DEPTH) {
    const sub = (act as Record<string, unknown>)['sub'];
    chain.push(typeof sub === 'string' ? sub : '');
    act = (act as Record<string, unknown>)['act'];
  }
  return chain;
}

function stringClaim(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function subjectOf(
  claims: Readonly<Record<string, unknown>>,
  tenantClaim: string,
  issuer: string,
): Subject {
  const sub = stringClaim(claims, 'sub');
  const tenant = stringClaim(claims, tenantClaim);
  const clientId = stringClaim(claims, 'client_id') ?? stringClaim(claims, 'azp');
  return {
    sub,
    tenant,
    clientId,
    scopes: scopesOf(claims),
    act: actChainOf(claims),
    issuer,
  };
}

export interface Subjects {
  /** The subject of a verified token, interned: one Subject per claims object, so a cached token's every hit shares it. */
  of(verified: VerifiedToken): Subject;
}

/** Subjects kept per claims object (interned by the verifier), so a cached token's subject is worked out once. */
export function createSubjects(tenantClaim: string): Subjects {
  const subjects = new WeakMap<object, Subject>();
  return {
    of(verified) {
      let subject = subjects.get(verified.claims);
      if (subject === undefined) {
        subject = subjectOf(verified.claims, tenantClaim, verified.issuer);
        intern(subject.scopes);
        intern(subject.act);
        intern(subject);
        subjects.set(verified.claims, subject);
      }
      return subject;
    },
  };
}
