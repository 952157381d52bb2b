// Builds the policy input document: the one contract between the pipeline and every Rego policy (see README).
import { intern, isInterned } from '../lib/interned.js';
import type { Subject } from './decision.js';
import type { AuthzRequest } from './request.js';

export interface PolicyInput {
  readonly action: string;
  readonly resource?: AuthzRequest['resource'];
  readonly tenant?: string;
  readonly context: Readonly<Record<string, unknown>>;
  readonly subject: {
    readonly sub?: string;
    readonly tenant?: string;
    readonly client_id?: string;
    readonly scopes: readonly string[];
    readonly act: readonly string[];
    readonly issuer?: string;
  };
  readonly claims: Readonly<Record<string, unknown>>;
  readonly transport: string;
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

type InputSubject = PolicyInput['subject'];

export interface PolicyInputs {
  /** The policy input of a request asked by a verified `subject` with these `claims`. */
  of(
    request: AuthzRequest,
    subject: Subject,
    claims: Readonly<Record<string, unknown>>,
  ): PolicyInput;
}

/**
 * Policy inputs whose `subject` document is made once per interned Subject (one per cached token)
 * and interned too, so every record of that token shares it and the audit log serialises it once.
 */
export function createPolicyInputs(): PolicyInputs {
  const inputSubjects = new WeakMap<Subject, InputSubject>();

  function inputSubjectOf(subject: Subject): InputSubject {
    const cached = inputSubjects.get(subject);
    if (cached !== undefined) return cached;
    const doc: InputSubject = {
      sub: subject.sub,
      tenant: subject.tenant,
      client_id: subject.clientId,
      scopes: subject.scopes,
      act: subject.act,
      issuer: subject.issuer,
    };
    if (isInterned(subject) && isInterned(subject.scopes) && isInterned(subject.act)) {
      inputSubjects.set(subject, intern(doc));
    }
    return doc;
  }

  return {
    of(request, subject, claims) {
      // Plain properties, not conditional spreads: an absent value is `undefined`, which JSON (and
      // so the Wasm input) leaves out, and object literals with a fixed shape are cheaper to build
      // (BENCHMARKS.md, "plain-properties").
      return {
        action: request.action,
        resource: request.resource,
        tenant: subject.tenant,
        context: request.context ?? EMPTY,
        subject: inputSubjectOf(subject),
        claims,
        transport: request.transport,
      };
    },
  };
}
