// `mandate audit tail`: recent audit records from a running sidecar's admin API, optionally followed as they come.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchWithDeadline } from '../lib/fetch-deadline.js';
import { UsageError } from './usage-error.js';

export const AUDIT_TAIL_USAGE = `usage: mandate audit tail [--tenant T] [--sub S] [--client-id C] [--agent A] [--action A|prefix*]
         [--tool NAME|prefix*] [--mcp-method METHOD] [--allow true|false] [--reason CODE] [--type decision|exchange|admin] [--decision-id ID]
         [--since RFC3339] [--until RFC3339] [--limit N] [--follow] [--interval 1s] [--json]
         [--admin-url URL] [--admin-token TOKEN | --admin-token-file FILE]`;

/** Flags that become query parameters of GET /v1/decisions, by flag name. */
const FILTERS = {
  tenant: 'tenant',
  sub: 'sub',
  'client-id': 'client_id',
  agent: 'agent',
  action: 'action',
  tool: 'tool',
  'mcp-method': 'mcp_method',
  allow: 'allow',
  reason: 'reason',
  type: 'type',
  'decision-id': 'decision_id',
  since: 'since',
  until: 'until',
} as const;

export interface AuditTailIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Aborted on SIGINT/SIGTERM: a follow ends cleanly. */
  readonly signal?: AbortSignal;
}

interface Answer {
  records: Record<string, unknown>[];
  next_after?: number;
  ring_id?: string;
  more: boolean;
  complete?: boolean;
}

class AdminApiError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
    /** Asking again cannot help (the admin may not read this): a follow stops instead of retrying. */
    readonly final = usage,
  ) {
    super(message);
  }
}

function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s)?$/.exec(text);
  if (!m) throw new UsageError('--interval: must be like 500ms or 2s');
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : n * 1000;
  if (ms < 100 || ms > 3_600_000) throw new UsageError('--interval: must be between 100ms and 1h');
  return ms;
}

/** The admin token: flag, MANDATE_ADMIN_TOKEN, a token file, or dev mode's generated one. */
function adminToken(values: Record<string, unknown>, env: AuditTailIo['env']): string {
  if (typeof values['admin-token'] === 'string') return values['admin-token'];
  if (env['MANDATE_ADMIN_TOKEN']) return env['MANDATE_ADMIN_TOKEN'];
  const file =
    typeof values['admin-token-file'] === 'string'
      ? resolve(values['admin-token-file'])
      : join(resolve(env['MANDATE_STATE_DIR'] || '.mandate'), 'admin-token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new UsageError(
      `no admin token: pass --admin-token, set MANDATE_ADMIN_TOKEN, or point --admin-token-file at one (tried ${file})`,
    );
  }
}

/** One human-readable line: when, outcome, who (tenant, user, agent, delegation chain), what, why. */
export function formatRecord(r: Record<string, unknown>): string {
  const parts: string[] = [String(r['time'] ?? '')];
  if (r['type'] === 'decision') {
    parts.push(r['allow'] === true ? 'ALLOW' : 'DENY ');
  } else {
    parts.push(String(r['type']).toUpperCase());
  }
  const field = (label: string, key: string) => {
    const v = r[key];
    if (typeof v === 'string' && v.length > 0) parts.push(`${label}=${v}`);
  };
  field('tenant', 'tenant');
  field('sub', 'sub');
  field('agent', 'client_id');
  const act = r['act'];
  if (Array.isArray(act) && act.length > 0) parts.push(`act=${act.join('>')}`);
  field('action', 'action');
  const resource = r['resource'] as { type?: string; id?: string } | undefined;
  if (resource && typeof resource.type === 'string') {
    parts.push(`resource=${resource.type}${resource.id !== undefined ? `/${resource.id}` : ''}`);
  }
  const mcp = r['mcp'] as { session_id?: unknown } | undefined;
  if (typeof mcp?.session_id === 'string') parts.push(`session=${mcp.session_id}`);
  const scopes = r['scopes'];
  if (Array.isArray(scopes)) parts.push(`scopes=${scopes.join(',')}`);
  field('outcome', 'outcome');
  const reasons = r['reasons'];
  if (Array.isArray(reasons) && reasons.length > 0) {
    const first = reasons[0] as { code?: string; message?: string };
    parts.push(`reason=${first.code ?? ''}${first.message ? ` (${first.message})` : ''}`);
  }
  field('by', 'decided_by');
  const id = r['decision_id'] ?? r['admin_id'] ?? r['exchange_id'];
  if (typeof id === 'string') parts.push(`id=${id}`);
  return parts.join(' ');
}

/** `mandate audit tail`'s flags, as declared in program.ts: the filters, paging and admin target. */
export type AuditTailFlags = Readonly<Partial<Record<keyof typeof FILTERS, string>>> & {
  readonly limit?: string;
  readonly follow?: boolean;
  readonly interval?: string;
  readonly json?: boolean;
  readonly 'admin-url'?: string;
  readonly 'admin-token'?: string;
  readonly 'admin-token-file'?: string;
};

/** Prints the matching records (and, with --follow, new ones until the signal); returns the exit code. */
export async function auditTail(values: AuditTailFlags, io: AuditTailIo): Promise<number> {
  const base = (
    (values['admin-url'] as string | undefined) ??
    io.env['MANDATE_ADMIN_URL'] ??
    'http://127.0.0.1:8182'
  ).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new UsageError('--admin-url: must be an http(s) URL');
  const token = adminToken(values, io.env);
  const follow = values.follow === true;
  const intervalMs = parseInterval((values.interval as string | undefined) ?? '1s');
  const limit = (values.limit as string | undefined) ?? '20';
  if (!/^\d+$/.test(limit)) throw new UsageError('--limit: must be a whole number');
  const filters = new URLSearchParams();
  for (const [flag, param] of Object.entries(FILTERS)) {
    const v = (values as Record<string, unknown>)[flag];
    if (typeof v === 'string') filters.set(param, v);
  }
  const print = (records: Record<string, unknown>[]) => {
    for (const r of records) io.out(`${values.json ? JSON.stringify(r) : formatRecord(r)}\n`);
  };

  const get = async (extra: Record<string, string>): Promise<Answer> => {
    const params = new URLSearchParams(filters);
    for (const [k, v] of Object.entries(extra)) params.set(k, v);
    let res: { status: number; body: Answer & { message?: string } };
    try {
      res = await fetchWithDeadline(
        `${base}/v1/decisions?${params}`,
        { headers: { authorization: `Bearer ${token}` } },
        { timeoutMs: 10_000 },
        async (r) => ({
          status: r.status,
          body: (await r.json().catch(() => ({}))) as Answer & { message?: string },
        }),
      );
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new AdminApiError(
        `cannot reach the admin API at ${base}: ${cause?.code ?? (err as Error).message}`,
        false,
      );
    }
    const { body } = res;
    if (res.status === 401) throw new AdminApiError('the admin API refused the admin token', false);
    if (res.status === 400) throw new AdminApiError(body.message ?? 'bad request', true);
    if (res.status === 403) {
      // A tenant-scoped admin asked about another tenant: the same answer every time.
      throw new AdminApiError(
        `the admin API answered 403: ${body.message ?? 'forbidden'}`,
        false,
        true,
      );
    }
    if (res.status !== 200) {
      throw new AdminApiError(`the admin API answered ${res.status}: ${body.message ?? ''}`, false);
    }
    return body;
  };

  try {
    const first = await get({ limit, ...(follow ? { source: 'ring' } : {}) });
    print(first.records);
    if (!follow) {
      if (first.complete === false) {
        io.err(
          'mandate: older matching records may have left the in-memory ring (configure a file sink to query history)\n',
        );
      }
      return 0;
    }
    let after = first.next_after ?? 0;
    let ringId = first.ring_id;
    let unreachable = false;
    let behind = false;
    while (!io.signal?.aborted) {
      // Still behind (the last answer was cut at its limit): ask again at once.
      if (!behind) {
        await new Promise<void>((done) => {
          const timer = setTimeout(done, intervalMs);
          io.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            done();
          });
        });
      }
      if (io.signal?.aborted) break;
      let answer: Answer;
      try {
        answer = await get({ after: String(after), limit: '1000', source: 'ring' });
      } catch (err) {
        if ((err as AdminApiError).final) throw err;
        if (!unreachable) io.err(`mandate: ${(err as Error).message}; retrying\n`);
        unreachable = true;
        continue;
      }
      if (unreachable) io.err('mandate: admin API reachable again\n');
      unreachable = false;
      if (answer.ring_id !== ringId) {
        // The sidecar restarted: its sequence starts over, so everything it holds is new to us.
        ringId = answer.ring_id;
        io.err('mandate: the sidecar restarted; following its new log\n');
        answer = await get({ after: '0', limit: '1000', source: 'ring' });
      }
      print(answer.records);
      after = answer.next_after ?? after;
      behind = answer.more;
    }
    return 0;
  } catch (err) {
    if (err instanceof AdminApiError && err.usage) throw new UsageError(err.message);
    throw err;
  }
}
