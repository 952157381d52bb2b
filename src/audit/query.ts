// The audit query: filters over records ("who did this, under which authority?"), parsed from the admin API's query string.
import { MCP_CLIENT_NOTIFICATIONS, MCP_CLIENT_REQUESTS } from '../lib/mcp-methods.js';
import type { AuditRecord } from './record.js';

export interface AuditQuery {
  readonly tenant?: string;
  readonly sub?: string;
  readonly clientId?: string;
  /** Matches the client id or any actor of the delegation chain. */
  readonly agent?: string;
  /** Exact action, or a prefix ending in `*` (`contacts.*`). */
  readonly action?: string;
  /** An MCP tool (the record's resource `{type: tool, id}`): exact name, or a prefix ending in `*`. */
  readonly tool?: string;
  /** The JSON-RPC method of an MCP message (the record's `mcp.method`), one MCP knows. */
  readonly mcpMethod?: string;
  readonly allow?: boolean;
  /** Record type (`decision`, `exchange`, `admin`, ...). */
  readonly type?: string;
  readonly decisionId?: string;
  /** Any reason code of the record. */
  readonly reason?: string;
  /** Inclusive lower bound, epoch ms. */
  readonly since?: number;
  /** Exclusive upper bound, epoch ms. */
  readonly until?: number;
  /** Ring cursor: only records after this sequence number. */
  readonly after?: number;
  readonly limit: number;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

/** A query-string problem, named by parameter. */
export class AuditQueryError extends Error {
  constructor(
    readonly param: string,
    problem: string,
  ) {
    super(`${param}: ${problem}`);
    this.name = 'AuditQueryError';
  }
}

const TEXT_PARAMS = {
  tenant: 'tenant',
  sub: 'sub',
  client_id: 'clientId',
  agent: 'agent',
  action: 'action',
  type: 'type',
  decision_id: 'decisionId',
  reason: 'reason',
  tool: 'tool',
} as const;

/** The parameters `GET /v1/decisions` accepts. */
export const QUERY_PARAMS = [
  ...Object.keys(TEXT_PARAMS),
  'mcp_method',
  'allow',
  'since',
  'until',
  'after',
  'limit',
  'source',
] as const;

function timeParam(name: string, value: string): number {
  // RFC 3339 only: Date.parse alone would also take locale formats and guess.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(value)) {
    throw new AuditQueryError(name, 'must be an RFC 3339 time, e.g. 2026-11-28T09:00:00Z');
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new AuditQueryError(name, 'is not a valid time');
  return ms;
}

/** Parses the query string into a query; unknown parameters are refused so a typo is not a silent no-filter. */
export function parseAuditQuery(params: Readonly<Record<string, unknown>>): AuditQuery {
  const q: Record<string, unknown> = { limit: DEFAULT_LIMIT };
  for (const [name, raw] of Object.entries(params)) {
    if (!(QUERY_PARAMS as readonly string[]).includes(name)) {
      throw new AuditQueryError(
        name,
        `unknown parameter (expected one of: ${QUERY_PARAMS.join(', ')})`,
      );
    }
    if (typeof raw !== 'string') throw new AuditQueryError(name, 'must be given once');
    if (name in TEXT_PARAMS) {
      if (raw.length === 0 || raw.length > 512)
        throw new AuditQueryError(name, 'must be 1-512 chars');
      q[TEXT_PARAMS[name as keyof typeof TEXT_PARAMS]] = raw;
      continue;
    }
    switch (name) {
      case 'mcp_method':
        if (!MCP_CLIENT_REQUESTS.has(raw) && !MCP_CLIENT_NOTIFICATIONS.has(raw)) {
          throw new AuditQueryError(
            name,
            `not a method an MCP client sends (e.g. tools/call, resources/read, prompts/get)`,
          );
        }
        q['mcpMethod'] = raw;
        break;
      case 'allow':
        if (raw !== 'true' && raw !== 'false')
          throw new AuditQueryError(name, 'must be true or false');
        q['allow'] = raw === 'true';
        break;
      case 'since':
      case 'until':
        q[name] = timeParam(name, raw);
        break;
      case 'after':
      case 'limit': {
        if (!/^\d{1,15}$/.test(raw)) throw new AuditQueryError(name, 'must be a whole number');
        const n = Number(raw);
        if (name === 'limit' && (n < 1 || n > MAX_LIMIT)) {
          throw new AuditQueryError(name, `must be between 1 and ${MAX_LIMIT}`);
        }
        q[name] = n;
        break;
      }
      // `source` is read by the route, not the filter.
    }
  }
  return q as unknown as AuditQuery;
}

/** `value` equals `pattern`, or starts with it when the pattern ends in `*`. */
function matchesName(pattern: string, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

/** Epoch ms of a record's time, NaN when it has none. */
export function recordTimeMs(record: AuditRecord): number {
  const time = (record as { time?: unknown }).time;
  return typeof time === 'string' ? Date.parse(time) : NaN;
}

/** True when the record satisfies every filter of the query (cursor and limit aside). */
export function matchesQuery(q: AuditQuery, record: AuditRecord): boolean {
  const r = record as unknown as Record<string, unknown>;
  if (q.type !== undefined && r['type'] !== q.type) return false;
  if (q.tenant !== undefined && r['tenant'] !== q.tenant) return false;
  if (q.sub !== undefined && r['sub'] !== q.sub) return false;
  if (q.clientId !== undefined && r['client_id'] !== q.clientId) return false;
  if (q.decisionId !== undefined && r['decision_id'] !== q.decisionId) return false;
  if (q.allow !== undefined && r['allow'] !== q.allow) return false;
  if (q.agent !== undefined) {
    const act = r['act'];
    if (r['client_id'] !== q.agent && !(Array.isArray(act) && act.includes(q.agent))) return false;
  }
  if (q.action !== undefined && !matchesName(q.action, r['action'])) return false;
  if (q.tool !== undefined) {
    const resource = r['resource'] as { type?: unknown; id?: unknown } | undefined;
    if (resource?.type !== 'tool' || !matchesName(q.tool, resource.id)) return false;
  }
  if (q.mcpMethod !== undefined) {
    const mcp = r['mcp'] as { method?: unknown } | undefined;
    if (mcp?.method !== q.mcpMethod) return false;
  }
  if (q.reason !== undefined) {
    const reasons = r['reasons'];
    if (
      !Array.isArray(reasons) ||
      !reasons.some((x) => (x as { code?: unknown }).code === q.reason)
    ) {
      return false;
    }
  }
  if (q.since !== undefined || q.until !== undefined) {
    const t = recordTimeMs(record);
    if (Number.isNaN(t)) return false;
    if (q.since !== undefined && t < q.since) return false;
    if (q.until !== undefined && t >= q.until) return false;
  }
  return true;
}
