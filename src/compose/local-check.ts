// One decision through the pipeline `serve` composes, without listeners, with what its audit record says: what `mandate check` prints.
import type { Logger } from 'pino';
import { createDecisionRecordMaker } from '../audit/decision-record.js';
import type { AuditRecord, DecisionAuditRecord } from '../audit/record.js';
import type { AuditSink } from '../audit/sink.js';
import type { MandateConfig } from '../config/types.js';
import type { Decision } from '../core/decision.js';
import type { AuthzRequest } from '../core/request.js';
import { subjectToWire } from '../core/subject-wire.js';
import type { PolicyOutcome } from '../policy/types.js';
import { openDecisionCore } from './core.js';

/** The question of a local check: a request as an adapter builds it, from the command line. */
export type LocalCheckRequest = Omit<AuthzRequest, 'transport'>;

/** A local decision in wire form, with the facts its audit record carries. */
export interface LocalCheck {
  readonly decision: {
    readonly allow: Decision['allow'];
    readonly reasons: Decision['reasons'];
    readonly decidedBy?: Decision['decidedBy'];
    /** The subject as the Check API answers it (snake_case). */
    readonly subject?: ReturnType<typeof subjectToWire>;
  };
  /** From the decision's audit record: the policy revisions that ran and the policy input. */
  readonly record?: Pick<DecisionAuditRecord, 'policy' | 'input'>;
  /** Each policy layer's own outcome, when `explain` asked and policy ran. */
  readonly layers?: PolicyOutcome;
}

/**
 * Decides `request` once with the pipeline `serve` composes (revocations from the configured
 * store, the compatibility policy), started without listeners and stopped afterwards. Its audit
 * record is kept rather than written: audit/ builds it as it would for `serve`. With `explain`,
 * the policy input is evaluated again by each layer, before the pipeline stops.
 */
export async function checkLocally(
  config: MandateConfig,
  logger: Logger,
  request: LocalCheckRequest,
  options: { readonly explain?: boolean } = {},
): Promise<LocalCheck> {
  let record: DecisionAuditRecord | undefined;
  const decisionRecords = createDecisionRecordMaker();
  const audit: AuditSink = {
    write(r: AuditRecord) {
      if (r.type === 'decision') record = r;
    },
    writeDecision(facts) {
      record = decisionRecords.recordOf(facts);
    },
    flush: async () => {},
    close: async () => {},
  };
  const core = await openDecisionCore(config, logger, audit);
  try {
    const decision = await core.decider.decide({ ...request, transport: 'cli' });
    // Set by the sink during decide(); the cast keeps TypeScript from narrowing it to undefined.
    const kept = record as DecisionAuditRecord | undefined;
    const layers =
      options.explain && kept?.input !== undefined && decision.decidedBy !== undefined
        ? core.policy.evaluate(decision.subject?.tenant, kept.input)
        : undefined;
    return {
      decision: {
        allow: decision.allow,
        reasons: decision.reasons,
        ...(decision.decidedBy !== undefined && { decidedBy: decision.decidedBy }),
        ...(decision.subject !== undefined && { subject: subjectToWire(decision.subject) }),
      },
      ...(kept !== undefined && {
        record: {
          ...(kept.policy !== undefined && { policy: kept.policy }),
          ...(kept.input !== undefined && { input: kept.input }),
        },
      }),
      ...(layers !== undefined && { layers }),
    };
  } finally {
    await core.stop();
  }
}
