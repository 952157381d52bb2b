// The in-memory revocation index every store serves decisions from: one hash map per kind, so a check is O(1) per kind.
import { cutoffSecondsOf, type LifetimeRules } from './lifetime.js';
import type {
  RevocableSubject,
  RevocationChecker,
  RevocationEntry,
  RevocationFilter,
} from './types.js';

export interface RevocationIndexOptions {
  /** Claim holding the grant id (e.g. `grant_id`, `sid`). */
  readonly grantClaim: string;
  readonly lifetime: LifetimeRules;
  /** Clock, epoch ms. Default Date.now. */
  readonly now?: () => number;
}

export interface RevocationIndex extends RevocationChecker {
  /** Adds or replaces (same id) an entry. */
  add(entry: RevocationEntry): void;
  remove(id: string): RevocationEntry | undefined;
  /** The entry when it is still live. */
  get(id: string): RevocationEntry | undefined;
  /** Replaces the whole content (a resync). */
  replaceAll(entries: Iterable<RevocationEntry>): void;
  list(filter?: RevocationFilter): RevocationEntry[];
  /** Every entry held, live or not yet swept, oldest first. */
  entries(): RevocationEntry[];
  /** Entries held, O(1): expired ones count until the next sweep. */
  size(): number;
  /** Drops expired entries; returns how many. */
  sweep(): number;
  /**
   * Calls `listener` with the entries each change brings in (an add, or those new to a resync),
   * synchronously, once the index enforces them. Returns the function that unsubscribes.
   */
  onAdded(listener: RevocationListener): () => void;
}

/** Told of entries the index has just started enforcing; it must not throw (one that does is skipped). */
export type RevocationListener = (entries: readonly RevocationEntry[]) => void;

/**
 * Entries sharing one key (one jti, one (tenant, sub), ...). Nearly always one; a few when an
 * admin revokes the same key again with another cut-off or tenant narrowing.
 */
type Bucket = RevocationEntry[];

function pushTo<K>(map: Map<K, Bucket>, key: K, entry: RevocationEntry): void {
  const bucket = map.get(key);
  if (bucket === undefined) map.set(key, [entry]);
  else bucket.push(entry);
}

function pullFrom<K>(map: Map<K, Bucket>, key: K, id: string): void {
  const bucket = map.get(key);
  if (bucket === undefined) return;
  const i = bucket.findIndex((e) => e.id === id);
  if (i >= 0) bucket.splice(i, 1);
  if (bucket.length === 0) map.delete(key);
}

function nested(map: Map<string, Map<string, Bucket>>, tenant: string): Map<string, Bucket> {
  let inner = map.get(tenant);
  if (inner === undefined) {
    inner = new Map();
    map.set(tenant, inner);
  }
  return inner;
}

/** The per-kind lookup maps. Two-level maps keyed tenant → value: no key string is built per check. */
interface KindMaps {
  readonly byJti: Map<string, Bucket>;
  readonly byGrant: Map<string, Bucket>;
  readonly bySubject: Map<string, Map<string, Bucket>>;
  readonly byClient: Map<string, Map<string, Bucket>>;
  readonly byTenant: Map<string, Bucket>;
  readonly byActor: Map<string, Bucket>;
}

function createKindMaps(): KindMaps {
  return {
    byJti: new Map(),
    byGrant: new Map(),
    bySubject: new Map(),
    byClient: new Map(),
    byTenant: new Map(),
    byActor: new Map(),
  };
}

function clearKindMaps(m: KindMaps): void {
  for (const map of [m.byJti, m.byGrant, m.bySubject, m.byClient, m.byTenant, m.byActor]) {
    map.clear();
  }
}

function insert(m: KindMaps, e: RevocationEntry): void {
  const tenant = e.tenant as string;
  const value = e.value as string;
  switch (e.kind) {
    case 'token':
      return pushTo(m.byJti, value, e);
    case 'grant':
      return pushTo(m.byGrant, value, e);
    case 'subject':
      return pushTo(nested(m.bySubject, tenant), value, e);
    case 'client':
      return pushTo(nested(m.byClient, tenant), value, e);
    case 'tenant':
      return pushTo(m.byTenant, tenant, e);
    case 'actor':
      return pushTo(m.byActor, value, e);
  }
}

function unlink(m: KindMaps, e: RevocationEntry): void {
  const tenant = e.tenant as string;
  const value = e.value as string;
  switch (e.kind) {
    case 'token':
      return pullFrom(m.byJti, value, e.id);
    case 'grant':
      return pullFrom(m.byGrant, value, e.id);
    case 'actor':
      return pullFrom(m.byActor, value, e.id);
    case 'tenant':
      return pullFrom(m.byTenant, tenant, e.id);
    case 'subject':
    case 'client': {
      const outer = e.kind === 'subject' ? m.bySubject : m.byClient;
      const inner = outer.get(tenant);
      if (inner === undefined) return;
      pullFrom(inner, value, e.id);
      if (inner.size === 0) outer.delete(tenant);
      return;
    }
  }
}

/** The first live entry of a bucket that applies to this token's tenant and issue time. */
function hit(
  bucket: Bucket | undefined,
  tenant: string | undefined,
  iat: number,
  nowMs: number,
): RevocationEntry | undefined {
  if (bucket === undefined) return undefined;
  for (let i = 0; i < bucket.length; i++) {
    const e = bucket[i] as RevocationEntry;
    if (e.tenant !== undefined && e.tenant !== tenant) continue;
    if (e.expiresAtMs !== undefined && e.expiresAtMs <= nowMs) continue;
    if (e.issuedBeforeMs !== undefined && !(iat < cutoffSecondsOf(e.issuedBeforeMs))) continue;
    return e;
  }
  return undefined;
}

/**
 * When the token was issued, in seconds. Without `iat`, the earliest it can have been issued
 * (`exp` minus its issuer's longest lifetime): the conservative reading, so a cut-off never
 * misses it. Without either (the verifier requires `exp`), it predates every cut-off.
 */
function issuedAt(
  lifetime: LifetimeRules,
  subject: RevocableSubject,
  claims: Readonly<Record<string, unknown>>,
): number {
  const iat = claims['iat'];
  if (typeof iat === 'number' && Number.isFinite(iat)) return iat;
  const exp = claims['exp'];
  if (typeof exp === 'number' && Number.isFinite(exp)) {
    return exp - lifetime.lifetimeSecondsOf(subject.issuer);
  }
  return Number.NEGATIVE_INFINITY;
}

/** The first live entry of any kind that revokes this token, checked kind by kind. */
function matchIn(
  m: KindMaps,
  grantClaim: string,
  subject: RevocableSubject,
  claims: Readonly<Record<string, unknown>>,
  iat: number,
  nowMs: number,
): RevocationEntry | undefined {
  const tenant = subject.tenant;
  let found: RevocationEntry | undefined;
  if (m.byJti.size > 0) {
    const jti = claims['jti'];
    if (typeof jti === 'string' && (found = hit(m.byJti.get(jti), tenant, iat, nowMs)))
      return found;
  }
  if (m.byGrant.size > 0) {
    const grant = claims[grantClaim];
    if (typeof grant === 'string' && (found = hit(m.byGrant.get(grant), tenant, iat, nowMs)))
      return found;
  }
  if (tenant !== undefined) {
    if ((found = hit(m.byTenant.get(tenant), tenant, iat, nowMs))) return found;
    if (subject.sub !== undefined && m.bySubject.size > 0) {
      found = hit(m.bySubject.get(tenant)?.get(subject.sub), tenant, iat, nowMs);
      if (found) return found;
    }
    if (subject.clientId !== undefined && m.byClient.size > 0) {
      found = hit(m.byClient.get(tenant)?.get(subject.clientId), tenant, iat, nowMs);
      if (found) return found;
    }
  }
  if (m.byActor.size > 0) {
    const act = subject.act;
    for (let i = 0; i < act.length; i++) {
      const actor = act[i] as string;
      if (actor.length > 0 && (found = hit(m.byActor.get(actor), tenant, iat, nowMs))) return found;
    }
  }
  return undefined;
}

const isLive = (e: RevocationEntry, nowMs: number) =>
  e.expiresAtMs === undefined || e.expiresAtMs > nowMs;

/** The live entries passing a list filter, oldest first. */
function listLive(
  byId: Map<string, RevocationEntry>,
  filter: RevocationFilter,
  nowMs: number,
): RevocationEntry[] {
  const out: RevocationEntry[] = [];
  for (const e of byId.values()) {
    if (!isLive(e, nowMs)) continue;
    if (filter.kind !== undefined && e.kind !== filter.kind) continue;
    if (filter.tenant !== undefined && e.tenant !== filter.tenant) continue;
    out.push(e);
  }
  return out;
}

/** Creates an empty index. */
export function createRevocationIndex(options: RevocationIndexOptions): RevocationIndex {
  const now = options.now ?? Date.now;
  const { grantClaim, lifetime } = options;
  const byId = new Map<string, RevocationEntry>();
  const maps = createKindMaps();
  const listeners = new Set<RevocationListener>();

  /** Runs after the index changed: a listener's failure must not undo or fail the change. */
  function announce(added: readonly RevocationEntry[]): void {
    if (added.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(added);
      } catch {
        // Listeners report their own failures; the entry is enforced either way.
      }
    }
  }

  function remove(id: string): RevocationEntry | undefined {
    const e = byId.get(id);
    if (e === undefined) return undefined;
    byId.delete(id);
    unlink(maps, e);
    return e;
  }

  function put(e: RevocationEntry): void {
    remove(e.id);
    byId.set(e.id, e);
    insert(maps, e);
  }

  return {
    match(subject, claims) {
      // The common case: nothing revoked at all costs one comparison.
      if (byId.size === 0) return undefined;
      const iat = issuedAt(lifetime, subject, claims);
      return matchIn(maps, grantClaim, subject, claims, iat, now());
    },
    add(e) {
      put(e);
      announce([e]);
    },
    remove,
    get(id) {
      const e = byId.get(id);
      return e !== undefined && isLive(e, now()) ? e : undefined;
    },
    replaceAll(entries) {
      const before = new Set(byId.keys());
      byId.clear();
      clearKindMaps(maps);
      const added: RevocationEntry[] = [];
      for (const e of entries) {
        put(e);
        if (!before.has(e.id)) added.push(e);
      }
      announce(added);
    },
    list: (filter = {}) => listLive(byId, filter, now()),
    entries: () => [...byId.values()],
    size: () => byId.size,
    sweep() {
      const nowMs = now();
      let removed = 0;
      for (const e of [...byId.values()]) {
        if (!isLive(e, nowMs)) {
          remove(e.id);
          removed++;
        }
      }
      return removed;
    },
    onAdded(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
