// The trail: what one run of the pipeline learned on its way to a verdict, handed to audit (as its LearnedFacts).
import type { CompatResult } from '../policy/compat-types.js';
import type { PolicyOutcome } from '../policy/types.js';
import type { RevocationEntry } from '../revocation/types.js';
import type { VerifiedToken } from '../token/types.js';
import type { Subject } from './decision.js';

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
}
