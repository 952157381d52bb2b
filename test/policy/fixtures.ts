// Shared builders for the policy tests: input documents as the pipeline builds them, and throwaway policy directories.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolicyEngine, type PolicyEngineOptions } from '../../src/policy/engine.js';
import type { PolicyEngine } from '../../src/policy/types.js';

/** The policies shipped in the repo. */
export const SHIPPED_POLICIES = fileURLToPath(new URL('../../policies/', import.meta.url));

export interface SubjectDoc {
  sub?: string;
  tenant?: string;
  client_id?: string;
  scopes: string[];
  act: string[];
  issuer?: string;
}

/** A user who delegated to `agent` (token exchange): sub is the user, the agent is the current actor. */
export function delegatedSubject(agent: string, scopes: string[], tenant = 'acme_inc'): SubjectDoc {
  return {
    sub: 'user_8421',
    tenant,
    client_id: agent,
    scopes,
    act: [agent],
    issuer: 'https://id.example',
  };
}

/** A client-credentials token: the service itself, no user. */
export function serviceSubject(
  clientId: string,
  scopes: string[],
  tenant = 'acme_inc',
): SubjectDoc {
  return { tenant, client_id: clientId, scopes, act: [], issuer: 'https://id.example' };
}

/** A person calling through a first-party app: no agent anywhere. */
export function personSubject(scopes: string[], tenant = 'acme_inc'): SubjectDoc {
  return {
    sub: 'user_8421',
    tenant,
    client_id: 'acme-portal',
    scopes,
    act: [],
    issuer: 'https://id.example',
  };
}

/** The policy input document, shaped exactly as the pipeline builds it. */
export function policyInput(
  action: string,
  subject: SubjectDoc,
  tenant: string | undefined = subject.tenant,
) {
  return {
    action,
    resource: { type: action.split('.')[0], id: 'r_1', attributes: {} },
    ...(tenant !== undefined && { tenant }),
    context: {},
    subject,
    claims: {
      iss: subject.issuer,
      sub: subject.sub,
      client_id: subject.client_id,
      scope: subject.scopes.join(' '),
      aud: 'mandate',
      exp: 1_900_000_000,
      iat: 1_800_000_000,
      jti: 'jti-1',
    },
    transport: 'http',
  };
}

/** A unit's files: path relative to the unit folder → content. */
export type UnitFiles = Record<string, string>;

export interface PolicyDirLayout {
  base?: UnitFiles;
  tenants?: Record<string, UnitFiles>;
}

/** A base unit that allows everything, for tests about tenants and the engine itself. */
export const ALLOW_ALL_BASE: UnitFiles = {
  'policy.rego': 'package mandate.base\n\ndecision := {"allow": true, "reasons": []}\n',
};

/** A tenant unit that allows everything. */
export const ALLOW_ALL_TENANT: UnitFiles = {
  'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n',
};

/** Writes a policy directory under the OS temp dir; remove it with the returned function. */
export async function makePolicyDir(
  layout: PolicyDirLayout,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-policies-'));
  const units: [string, UnitFiles][] = [];
  if (layout.base) units.push(['base', layout.base]);
  for (const [tenant, files] of Object.entries(layout.tenants ?? {}))
    units.push([join('tenants', tenant), files]);
  for (const [unit, files] of units) {
    for (const [name, content] of Object.entries(files)) {
      const path = join(dir, unit, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Records what the engine logs, so tests can assert on it. */
export function recordingLogger() {
  const lines: { level: 'info' | 'warn' | 'error'; fields: object; message?: string }[] = [];
  return {
    lines,
    info: (fields: object, message?: string) =>
      void lines.push({ level: 'info', fields, ...(message !== undefined && { message }) }),
    warn: (fields: object, message?: string) =>
      void lines.push({ level: 'warn', fields, ...(message !== undefined && { message }) }),
    error: (fields: object, message?: string) =>
      void lines.push({ level: 'error', fields, ...(message !== undefined && { message }) }),
  };
}

/** Builds and starts an engine over `dir`. */
export async function startEngine(
  dir: string,
  extra: Omit<PolicyEngineOptions, 'config'> = {},
): Promise<PolicyEngine> {
  const engine = createPolicyEngine({ config: { dir }, ...extra });
  await engine.start();
  return engine;
}
