// The storage form of a revocation entry (snapshot file, Redis values and change messages), read back defensively.
import { REVOCATION_KINDS, type RevocationEntry, type RevocationKind } from './types.js';

const KINDS: ReadonlySet<string> = new Set(REVOCATION_KINDS);

/** One line of JSON; the field names are the entry's own, times in epoch milliseconds. */
export function encodeEntry(entry: RevocationEntry): string {
  return JSON.stringify(entry);
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Validates a parsed value as an entry. Snapshot files and Redis are shared with other processes
 * and versions, so anything malformed is skipped (undefined) rather than trusted or thrown.
 */
export function decodeEntry(value: unknown): RevocationEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!isText(v['id']) || typeof v['kind'] !== 'string' || !KINDS.has(v['kind'])) return undefined;
  const kind = v['kind'] as RevocationKind;
  const tenant = v['tenant'];
  const val = v['value'];
  const issuedBefore = v['issuedBeforeMs'];
  const expiresAt = v['expiresAtMs'];
  if (tenant !== undefined && !isText(tenant)) return undefined;
  if (val !== undefined && !isText(val)) return undefined;
  if (issuedBefore !== undefined && !isTime(issuedBefore)) return undefined;
  if (expiresAt !== undefined && !isTime(expiresAt)) return undefined;
  if (typeof v['reason'] !== 'string' || typeof v['createdBy'] !== 'string') return undefined;
  if (!isTime(v['createdAtMs'])) return undefined;
  // The same shape rules the admin API enforces, so a hand-edited entry cannot match everything.
  if (kind === 'tenant' ? tenant === undefined : val === undefined) return undefined;
  if ((kind === 'subject' || kind === 'client') && tenant === undefined) return undefined;
  return Object.freeze({
    id: v['id'],
    kind,
    ...(tenant !== undefined ? { tenant } : {}),
    ...(val !== undefined && kind !== 'tenant' ? { value: val } : {}),
    ...(issuedBefore !== undefined ? { issuedBeforeMs: issuedBefore } : {}),
    reason: v['reason'],
    createdBy: v['createdBy'],
    createdAtMs: v['createdAtMs'],
    ...(expiresAt !== undefined ? { expiresAtMs: expiresAt } : {}),
  });
}

/** A change as published to every sidecar sharing a store. */
export type ChangeMessage =
  | { readonly op: 'add'; readonly entry: RevocationEntry }
  | { readonly op: 'del'; readonly id: string };

export function encodeChange(change: ChangeMessage): string {
  return JSON.stringify(change);
}

export function decodeChange(text: string): ChangeMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const m = parsed as Record<string, unknown>;
  if (m['op'] === 'del' && isText(m['id'])) return { op: 'del', id: m['id'] };
  if (m['op'] === 'add') {
    const entry = decodeEntry(m['entry']);
    if (entry) return { op: 'add', entry };
  }
  return undefined;
}
