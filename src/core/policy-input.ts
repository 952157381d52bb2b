// Builds the policy input document: the one contract between the pipeline and every Rego policy (see README).
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

export function policyInputOf(
  request: AuthzRequest,
  subject: Subject,
  claims: Readonly<Record<string, unknown>>,
): PolicyInput {
  return {
    action: request.action,
    ...(request.resource ? { resource: request.resource } : {}),
    ...(subject.tenant !== undefined ? { tenant: subject.tenant } : {}),
    context: request.context ?? EMPTY,
    subject: {
      ...(subject.sub !== undefined ? { sub: subject.sub } : {}),
      ...(subject.tenant !== undefined ? { tenant: subject.tenant } : {}),
      ...(subject.clientId !== undefined ? { client_id: subject.clientId } : {}),
      scopes: subject.scopes,
      act: subject.act,
      ...(subject.issuer !== undefined ? { issuer: subject.issuer } : {}),
    },
    claims,
    transport: request.transport,
  };
}
