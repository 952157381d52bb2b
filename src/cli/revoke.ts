// `mandate revoke ...` and `mandate revocations list|delete`: the revocation admin API from a terminal.
import { adminCall, adminTarget } from './admin-client.js';
import { UsageError } from './usage-error.js';

const TARGET_USAGE = '[--admin-url URL] [--admin-token TOKEN | --admin-token-file FILE]';

export const REVOKE_USAGE = `usage: mandate revoke (--jti J | --grant G | --tenant T --sub S | --tenant T --client C
                      | --tenant T --whole-tenant | --actor A [--absolute])
                      [--tenant T] [--before TIME] [--reason TEXT] ${TARGET_USAGE}`;

/** Which kind the flags name: exactly one selector, so a forgotten flag never widens a revocation. */
function kindOf(values: Record<string, unknown>): { kind: string; field?: string; value?: string } {
  const selectors = [
    ['jti', 'token', 'jti'],
    ['grant', 'grant', 'grant_id'],
    ['sub', 'subject', 'sub'],
    ['client', 'client', 'client_id'],
    ['actor', 'actor', 'actor'],
    ['whole-tenant', 'tenant', undefined],
  ] as const;
  const given = selectors.filter(([flag]) => values[flag] !== undefined && values[flag] !== false);
  if (given.length !== 1) {
    throw new UsageError(
      `${given.length === 0 ? 'say what to revoke' : 'name one thing to revoke'}: exactly one of --jti, --grant, --sub, --client, --actor or --whole-tenant\n${REVOKE_USAGE}`,
    );
  }
  const [flag, kind, field] = given[0] as (typeof selectors)[number];
  return field === undefined ? { kind } : { kind, field, value: values[flag] as string };
}

/** `--before`: RFC 3339, or whole epoch seconds like `iat`. */
function beforeOf(text: string): string | number {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** The admin-API flags every revocation command takes. */
type AdminTargetFlags = {
  readonly 'admin-url'?: string;
  readonly 'admin-token'?: string;
  readonly 'admin-token-file'?: string;
};

/** `mandate revoke`'s flags, as declared in program.ts. */
export type RevokeFlags = AdminTargetFlags & {
  readonly tenant?: string;
  readonly jti?: string;
  readonly grant?: string;
  readonly sub?: string;
  readonly client?: string;
  readonly actor?: string;
  readonly 'whole-tenant'?: boolean;
  readonly absolute?: boolean;
  readonly before?: string;
  readonly reason?: string;
};

/** `mandate revocations list|delete`'s flags, as declared in program.ts. */
export type RevocationFlags = AdminTargetFlags & {
  readonly tenant?: string;
  readonly kind?: string;
  readonly limit?: string;
  readonly json?: boolean;
};

/** Creates the revocation the flags describe; returns the API's answer as JSON text. */
export async function revoke(values: RevokeFlags, env: NodeJS.ProcessEnv): Promise<string> {
  const { kind, field, value } = kindOf(values);
  const body = {
    kind,
    ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
    ...(field !== undefined ? { [field]: value } : {}),
    ...(values.before !== undefined ? { issued_before: beforeOf(values.before) } : {}),
    ...(values.absolute ? { absolute: true } : {}),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
  };
  const created = await adminCall(adminTarget(values, env), 'POST', '/v1/revocations', body);
  return JSON.stringify(created, null, 2);
}

function describeEntry(e: Record<string, unknown>): string {
  const what = ['jti', 'grant_id', 'sub', 'client_id', 'actor']
    .filter((k) => e[k] !== undefined)
    .map((k) => `${k}=${String(e[k])}`);
  const scope = e['tenant'] !== undefined ? `tenant=${String(e['tenant'])}` : 'all tenants';
  const when =
    e['absolute'] === true
      ? 'absolute'
      : e['issued_before'] !== undefined
        ? `issued before ${String(e['issued_before'])}`
        : 'one token';
  const reason = typeof e['reason'] === 'string' && e['reason'] !== '' ? `  "${e['reason']}"` : '';
  return `${String(e['id'])}  ${String(e['kind'])}  ${[scope, ...what].join(' ')}  ${when}  by ${String(e['created_by'])}${reason}`;
}

/** `revocations list` or `revocations delete ID`; returns what to print. */
export async function revocations(
  sub: 'list' | 'delete',
  positionals: readonly string[],
  values: RevocationFlags,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  if (sub === 'list') {
    const query = new URLSearchParams();
    if (values.tenant !== undefined) query.set('tenant', values.tenant);
    if (values.kind !== undefined) query.set('kind', values.kind);
    if (values.limit !== undefined) query.set('limit', values.limit);
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const listed = await adminCall(adminTarget(values, env), 'GET', `/v1/revocations${qs}`);
    if (values.json) return JSON.stringify(listed, null, 2);
    const entries = (listed['revocations'] as Record<string, unknown>[] | undefined) ?? [];
    const total = Number(listed['total'] ?? entries.length);
    const lines = entries.map(describeEntry);
    lines.push(
      total > entries.length
        ? `${entries.length} of ${total} revocation(s) shown (use --limit)`
        : `${total} revocation(s)`,
    );
    return lines.join('\n');
  }
  if (sub === 'delete') {
    if (positionals.length !== 1) {
      throw new UsageError(`usage: mandate revocations delete ID ${TARGET_USAGE}`);
    }
    const id = positionals[0] as string;
    const removed = await adminCall(
      adminTarget(values, env),
      'DELETE',
      `/v1/revocations/${encodeURIComponent(id)}`,
    );
    return `deleted ${describeEntry(removed)}`;
  }
  throw new UsageError(
    `usage: mandate revocations list [--tenant T] [--kind K] [--limit N] [--json] ${TARGET_USAGE}\n       mandate revocations delete ID ${TARGET_USAGE}`,
  );
}
