// Ends what a decision allowed to go on (an open stream) as soon as a revocation matching its token is enforced, with one audit record.
import type { AuditSink } from '../audit/sink.js';
import { createRandomUuid } from '../lib/uuid.js';
import type { RevocationChecker, RevocationEntry, RevocationFeed } from '../revocation/types.js';
import { decodeCompact } from '../token/decode.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { Decision, Subject } from './decision.js';
import type { Reason } from './reasons.js';
import type { AuthzRequest } from './request.js';

/** Why a stream was ended: the `revoked` of a check, worded for the record of an ended stream. */
const CUT_REASONS: readonly Reason[] = Object.freeze([
  Object.freeze({
    code: 'revoked' as const,
    message: 'the access token was revoked while its stream was open',
  }),
]);

export interface StreamGuardDeps {
  /** The store decisions are checked against, and what tells of entries as they are enforced. */
  readonly revocations: RevocationChecker & RevocationFeed;
  /** Receives the record of each ended stream (a denial with reason `revoked`). */
  readonly audit: AuditSink;
  /** Receives unexpected exceptions (bugs) from an `onRevoked`. */
  readonly onError?: (err: unknown) => void;
}

export interface StreamGuard {
  /**
   * Watches what `decision` (an allow for `request`) let go on: `onRevoked` runs once, as soon as a
   * revocation matching its token is enforced (synchronously, before anything else runs), or at
   * once, before `watch` returns, when one already is. Returns the function that stops watching;
   * call it when the stream ends.
   */
  watch(request: AuthzRequest, decision: Decision, onRevoked: () => void): () => void;
  /** How many streams are watched now. */
  size(): number;
  /** Stops listening to the store. */
  close(): void;
}

/** One watched stream: the token's facts as the decision's revocation check saw them. */
interface Watched {
  readonly request: AuthzRequest;
  readonly subject: Subject;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly onRevoked: () => void;
}

const NOTHING_TO_STOP = () => {};

/**
 * A guard over one revocation store. A new revocation costs one index look-up per open stream
 * (the check a decision makes); an event on a stream costs nothing: the store announces each
 * entry synchronously from the one index every change goes through, so no event can pass between
 * an entry being enforced and the streams it matches being ended.
 */
export function createStreamGuard(deps: StreamGuardDeps): StreamGuard {
  const { revocations, audit } = deps;
  const watched = new Set<Watched>();
  const randomUuid = createRandomUuid();

  function end(w: Watched, entry: RevocationEntry): void {
    watched.delete(w);
    const token = w.request.token as string;
    audit.writeDecision({
      asked: w.request,
      decided: { decisionId: randomUuid(), allow: false, reasons: CUT_REASONS, latencyUs: 0 },
      learned: {
        subject: w.subject,
        token: { claims: w.claims },
        tokenHash: tokenFingerprint(token),
        ...(w.subject.issuer !== undefined ? { issuer: w.subject.issuer } : {}),
        revocation: entry,
      },
    });
    try {
      w.onRevoked();
    } catch (err) {
      deps.onError?.(err);
    }
  }

  const unsubscribe = revocations.onAdded(() => {
    // Which entry came in does not matter: the stream's token is checked as a decision checks it.
    for (const w of [...watched]) {
      const entry = revocations.match(w.subject, w.claims);
      if (entry !== undefined) end(w, entry);
    }
  });

  return {
    watch(request, decision, onRevoked) {
      const subject = decision.subject;
      // The token was verified as a JWT for this decision: its payload is the claims it was
      // checked with. An allow without either (none is made) has nothing to match on.
      const claims =
        request.token !== undefined ? decodeCompact(request.token)?.payload : undefined;
      if (!decision.allow || subject === undefined || claims === undefined) return NOTHING_TO_STOP;
      const w: Watched = { request, subject, claims, onRevoked };
      watched.add(w);
      // A revocation enforced between the decision and now (the upstream was slow to answer).
      const already = revocations.match(subject, claims);
      if (already !== undefined) {
        end(w, already);
        return NOTHING_TO_STOP;
      }
      return () => watched.delete(w);
    },
    size: () => watched.size,
    close: unsubscribe,
  };
}
