// The trail: what one run of the pipeline learned on its way to a verdict, kept for the audit record.
import type { CompatResult } from '../policy/compat-types.js';
import type { PolicyOutcome } from '../policy/types.js';
import type { RevocationEntry } from '../revocation/types.js';
import type { VerifiedToken } from '../token/types.js';
import type { Subject } from './decision.js';
import type { Verdict } from './verdict.js';

export interface Trail {
  token?: VerifiedToken;
  subject?: Subject;
  outcome?: PolicyOutcome;
  compat?: CompatResult;
  issuer?: string;
  tokenHash?: string;
  /** The revocation entry that matched, for the audit record only. */
  revocation?: RevocationEntry;
  /** The document the policy was evaluated over: the audit record's `input` (by reference, not copied). */
  input?: object;
  /** Set when the verdict is the one a cached outcome always gives (its records are alike). */
  cachedVerdict?: Verdict;
}
