// What a revocation entry is, what a token offers to be matched against, and the store interface every driver implements.
import type { ComponentStatus } from '../lib/lifecycle.js';

/**
 * The kinds of revocation, each matched through its own O(1) index:
 * - `token`: one token, by `jti`;
 * - `grant`: every token minted from one consent, by the configured grant-id claim;
 * - `subject`: a user in a tenant, by (`tenant`, `sub`);
 * - `client`: an agent in a tenant, by (`tenant`, `client_id`);
 * - `tenant`: every token of a tenant;
 * - `actor`: a subject anywhere in the token's `act` delegation chain.
 */
export const REVOCATION_KINDS = ['token', 'grant', 'subject', 'client', 'tenant', 'actor'] as const;

export type RevocationKind = (typeof REVOCATION_KINDS)[number];

/** One revocation, as every store keeps it. Immutable: a change is a delete plus a new entry. */
export interface RevocationEntry {
  /** `rv_` plus a random UUID; what DELETE /v1/revocations/{id} takes. */
  readonly id: string;
  readonly kind: RevocationKind;
  /**
   * Required for `subject`, `client` and `tenant`. For `token`, `grant` and `actor` it narrows the
   * entry to that tenant's tokens; absent, the entry matches in every tenant.
   */
  readonly tenant?: string;
  /** The `jti`, grant id, `sub`, `client_id` or actor subject; absent for `tenant`. */
  readonly value?: string;
  /**
   * Epoch milliseconds: only tokens issued before this instant match (a token issued in the same
   * second counts as before it, since `iat` has whole seconds). Absent for `token` (one token) and for
   * absolute `grant`/`actor` entries, which match whatever the token's `iat`.
   */
  readonly issuedBeforeMs?: number;
  /** Free text: why. Never shown to the caller of a check. */
  readonly reason: string;
  /** Admin principal id that created the entry (`token:<8 hex>` or `jwt:<sub>`). */
  readonly createdBy: string;
  readonly createdAtMs: number;
  /**
   * Epoch milliseconds after which no token the entry could match can still be valid, so the entry
   * is dropped. Absent for absolute entries: they stay until deleted.
   */
  readonly expiresAtMs?: number;
}

/** The identity facts of a verified token; the pipeline's `Subject` has this shape. */
export interface RevocableSubject {
  readonly tenant?: string;
  readonly sub?: string;
  readonly clientId?: string;
  /** Actor subjects of the `act` chain, outermost first. */
  readonly act: readonly string[];
  readonly issuer?: string;
}

/** What the pipeline needs: a synchronous, allocation-free look-up. */
export interface RevocationChecker {
  /** The first entry that revokes this verified token, or undefined. Never throws for odd claims. */
  match(
    subject: RevocableSubject,
    claims: Readonly<Record<string, unknown>>,
  ): RevocationEntry | undefined;
}

export interface RevocationFilter {
  readonly tenant?: string;
  readonly kind?: RevocationKind;
}

/** Tells of revocations as they start being enforced, so what was allowed before (an open stream) can be ended. */
export interface RevocationFeed {
  /**
   * Calls `listener`, synchronously, with the entries each change brings in (an add here, one heard
   * from another sidecar, those new to a resync) once `match` enforces them; the listener must not
   * throw. Returns the function that unsubscribes.
   */
  onAdded(listener: (entries: readonly RevocationEntry[]) => void): () => void;
}

/** Every store driver (memory with a snapshot file, Redis) implements this; one conformance suite tests them all. */
export interface RevocationStore extends RevocationChecker, RevocationFeed {
  readonly driver: 'memory' | 'redis';
  /** Durably adds an entry (idempotent by id); resolves once it is stored, rejects with `RevocationStoreError` when it cannot be. */
  add(entry: RevocationEntry): Promise<void>;
  /** Removes an entry; resolves with it, or undefined when no such (live) entry exists. */
  remove(id: string): Promise<RevocationEntry | undefined>;
  /** A live entry by id. */
  get(id: string): RevocationEntry | undefined;
  /** Live entries, oldest first. */
  list(filter?: RevocationFilter): RevocationEntry[];
  /** Number of entries held (expired ones count until the next sweep). */
  size(): number;
  /** Drops expired entries now (also done on a timer); returns how many went. */
  sweep(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ComponentStatus;
}
