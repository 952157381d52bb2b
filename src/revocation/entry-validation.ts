// Domain rules for a new revocation entry: which field names its value, tenant and issued_before rules, expiry; pure (no clock, no I/O).
import { expiryOf } from './lifetime.js';
import type { RevocationEntry, RevocationKind } from './types.js';

/** The request field that names what a kind revokes (`tenant` needs none). */
export const REVOCATION_VALUE_FIELD: Readonly<Record<RevocationKind, ValueField | undefined>> = {
  token: 'jti',
  grant: 'grant_id',
  subject: 'sub',
  client: 'client_id',
  tenant: undefined,
  actor: 'actor',
};

/** Every field that may carry an entry's value. */
export const REVOCATION_VALUE_FIELDS = ['jti', 'grant_id', 'sub', 'client_id', 'actor'] as const;
export type ValueField = (typeof REVOCATION_VALUE_FIELDS)[number];

/** Kinds whose entries may be absolute (no `issued_before`): grant ids and compromised actors do not come back. */
const MAY_BE_ABSOLUTE: ReadonlySet<RevocationKind> = new Set(['grant', 'actor']);
/** Kinds that only make sense within one tenant. */
const NEEDS_TENANT: ReadonlySet<RevocationKind> = new Set(['subject', 'client', 'tenant']);

/** A requested entry, fields as the admin API names them (already shape-checked by its schema). */
export interface RevocationEntryInput {
  readonly kind: RevocationKind;
  /** The tenant the entry is confined to, after any admin scoping. */
  readonly tenant?: string;
  readonly jti?: string;
  readonly grant_id?: string;
  readonly sub?: string;
  readonly client_id?: string;
  readonly actor?: string;
  /** RFC 3339 time or epoch seconds; anything else is refused. */
  readonly issued_before?: unknown;
  readonly absolute?: boolean;
  readonly reason?: string;
}

/** What the rules are applied with: the caller supplies the id, the author and the clock. */
export interface RevocationEntryContext {
  readonly id: string;
  readonly createdBy: string;
  /** Now, epoch ms: the entry's creation time. */
  readonly nowMs: number;
  /** How far in the future `issued_before` may lie, seconds. */
  readonly clockSkewSeconds: number;
  /** The lifetime horizon (see lifetime.ts), ms: how long a token can stay valid. */
  readonly horizonMs: number;
}

/** The entry, or the message naming the field that makes it invalid. */
export type RevocationEntryResult =
  | { readonly ok: true; readonly entry: RevocationEntry }
  | { readonly ok: false; readonly message: string };

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** `issued_before` as epoch ms (an RFC 3339 time, or epoch seconds like `iat`), or why not. */
export function issuedBeforeOf(
  value: unknown,
): { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly message: string } {
  if (typeof value !== 'string' && typeof value !== 'number') {
    return { ok: false, message: 'issued_before: must be a string or an integer' };
  }
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0
      ? { ok: true, ms: value * 1000 }
      : { ok: false, message: 'issued_before: must be a non-negative integer' };
  }
  const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms)
    ? { ok: true, ms }
    : {
        ok: false,
        message: 'issued_before: must be an RFC 3339 time (2026-01-31T12:00:00Z) or epoch seconds',
      };
}

/**
 * Applies the domain rules to a requested entry: exactly the kind's value field, a tenant where the
 * kind needs one, `absolute` only for grant and actor, `issued_before` neither for token nor with
 * `absolute`, not in the future beyond the clock skew, and not so old that the entry would already
 * have expired. Returns a frozen entry or the first rule broken.
 */
export function validateRevocationEntry(
  input: RevocationEntryInput,
  context: RevocationEntryContext,
): RevocationEntryResult {
  const refuse = (message: string) => ({ ok: false, message }) as const;
  const kind = input.kind;
  const field = REVOCATION_VALUE_FIELD[kind];
  for (const other of REVOCATION_VALUE_FIELDS) {
    if (other !== field && input[other] !== undefined) {
      return refuse(`${other}: is not allowed for kind ${kind}`);
    }
  }
  const value = field === undefined ? undefined : input[field];
  if (field !== undefined && value === undefined) {
    return refuse(`${field}: is required for kind ${kind}`);
  }
  const tenant = input.tenant;
  if (NEEDS_TENANT.has(kind) && tenant === undefined) {
    return refuse(`tenant: is required for kind ${kind}`);
  }
  if (input.absolute === true && !MAY_BE_ABSOLUTE.has(kind)) {
    return refuse('absolute: is only allowed for kinds grant and actor');
  }
  if (input.issued_before !== undefined && (kind === 'token' || input.absolute === true)) {
    return refuse(
      kind === 'token'
        ? 'issued_before: is not allowed for kind token (a jti names one token)'
        : 'issued_before: is not allowed with absolute: true',
    );
  }
  const createdAtMs = context.nowMs;
  let issuedBeforeMs: number | undefined;
  if (kind !== 'token' && input.absolute !== true) {
    if (input.issued_before === undefined) issuedBeforeMs = createdAtMs;
    else {
      const instant = issuedBeforeOf(input.issued_before);
      if (!instant.ok) return instant;
      issuedBeforeMs = instant.ms;
    }
    if (issuedBeforeMs > createdAtMs + context.clockSkewSeconds * 1000) {
      return refuse(
        `issued_before: must not be in the future (more than ${context.clockSkewSeconds} s ahead)`,
      );
    }
  }
  const shape = { kind, createdAtMs, ...(issuedBeforeMs !== undefined ? { issuedBeforeMs } : {}) };
  const expiresAtMs = expiryOf(shape, context.horizonMs);
  if (expiresAtMs !== undefined && expiresAtMs <= createdAtMs) {
    return refuse(
      'issued_before: is so long ago that no token issued before it can still be valid',
    );
  }
  return {
    ok: true,
    entry: Object.freeze({
      id: context.id,
      kind,
      ...(tenant !== undefined ? { tenant } : {}),
      ...(value !== undefined ? { value } : {}),
      ...(issuedBeforeMs !== undefined ? { issuedBeforeMs } : {}),
      reason: input.reason ?? '',
      createdBy: context.createdBy,
      createdAtMs,
      ...(expiresAtMs !== undefined ? { expiresAtMs } : {}),
    }),
  };
}
