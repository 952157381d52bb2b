// Makes a decision's audit record from the facts the pipeline hands over: audit decides whether to build it and how it is written.
//
// The pipeline never builds a record. It hands the audit log what it asked, decided and learned;
// the log builds the record only when it will keep it, and knows from those facts which records
// repeat one another (a cached policy outcome), so it can write them from a template.
import { createRecordClock } from './clock.js';
import { AUDIT_SCHEMA_VERSION, RECORD_SHAPE, type DecisionAuditRecord } from './record.js';

/** What was asked (the pipeline's request, as audit reads it). */
export interface AskedFacts {
  readonly transport: string;
  readonly action: string;
  readonly resource?: {
    readonly type: string;
    readonly id?: string;
    readonly attributes?: Readonly<Record<string, unknown>>;
  };
  readonly tenant?: string;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly requestId?: string;
  readonly peer?: string;
}

/** What was decided. */
export interface DecidedFacts {
  readonly decisionId: string;
  readonly allow: boolean;
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
  readonly decidedBy?: 'base' | 'tenant' | 'compat';
  readonly latencyUs: number;
  readonly dryRun?: true;
}

/** One policy layer's result. */
interface LayerFacts {
  readonly revision: string;
  readonly evalNs: number;
}

/** What the pipeline learned on the way (the token, its subject, the policy that ran). */
export interface LearnedFacts {
  readonly token?: { readonly claims: Readonly<Record<string, unknown>> };
  readonly subject?: {
    readonly sub?: string;
    readonly tenant?: string;
    readonly clientId?: string;
    readonly scopes: readonly string[];
    readonly act: readonly string[];
  };
  /**
   * Base AND tenant's outcome. A `cached` one is one interned object for every decision with that
   * token and question under the same units, which is what makes their records repeat.
   */
  readonly outcome?: {
    readonly base: LayerFacts;
    readonly tenant?: LayerFacts;
    readonly cached?: true;
  };
  readonly compat?: LayerFacts;
  readonly issuer?: string;
  readonly tokenHash?: string;
  readonly revocation?: { readonly id: string; readonly kind: string };
  /** The document the policy was evaluated over, by reference. */
  readonly input?: object;
}

/** Everything a decision record is made of, handed to {@link AuditSink.writeDecision}. */
export interface DecisionFacts {
  readonly asked: AskedFacts;
  readonly decided: DecidedFacts;
  readonly learned: LearnedFacts;
}

export interface DecisionRecordMaker {
  /** The record of a decision, stamped with the current time. */
  recordOf(facts: DecisionFacts): DecisionAuditRecord;
}

/** Shape keys of one cached outcome: by the reasons array it was decided with, and dry-run. */
interface OutcomeShapes {
  readonly reasons: object;
  readonly shapes: [object?, object?];
  others?: WeakMap<object, [object?, object?]>;
}

/**
 * A record maker whose records of one cached outcome, decided with the same reasons array and
 * dry-run setting, share a shape key (RECORD_SHAPE): they are alike but for their per-decision
 * members. The outcome stands for one verified token (issuer, hash, claims, subject) and one
 * question (transport, action, resource, context) under the same policy units; the reasons array
 * is the outcome's own interned verdict, or a shared refusal replacing it. Kept per outcome, so
 * the keys go when the decision cache drops it.
 */
export function createDecisionRecordMaker(): DecisionRecordMaker {
  const clock = createRecordClock();
  const byOutcome = new WeakMap<object, OutcomeShapes>();

  function shapeOf(outcome: object, reasons: object, dryRun: boolean): object {
    const i = dryRun ? 1 : 0;
    let entry = byOutcome.get(outcome);
    if (entry === undefined) {
      entry = { reasons, shapes: [] };
      byOutcome.set(outcome, entry);
    }
    if (entry.reasons === reasons) return (entry.shapes[i] ??= {});
    entry.others ??= new WeakMap();
    let shapes = entry.others.get(reasons);
    if (shapes === undefined) {
      shapes = [];
      entry.others.set(reasons, shapes);
    }
    return (shapes[i] ??= {});
  }

  return {
    recordOf({ asked, decided, learned }) {
      const claims = learned.token?.claims;
      const subject = learned.subject;
      const jti = claims?.['jti'];
      const outcome = learned.outcome;
      const policy = outcome
        ? { base: outcome.base.revision, tenant: outcome.tenant?.revision }
        : learned.compat
          ? { compat: learned.compat.revision }
          : undefined;
      const cached = outcome?.cached === true;
      const evalNs = cached
        ? undefined
        : outcome
          ? outcome.base.evalNs + (outcome.tenant?.evalNs ?? 0)
          : learned.compat?.evalNs;
      // Plain properties, not conditional spreads (cheaper on this per-decision path, BENCHMARKS.md,
      // "plain-properties"): JSON leaves `undefined` out, so the record has exactly the known fields.
      const resource = asked.resource;
      const dryRun = decided.dryRun === true;
      return {
        type: 'decision',
        schema_version: AUDIT_SCHEMA_VERSION,
        decision_id: decided.decisionId,
        time: clock.rfc3339NanoNow(),
        transport: asked.transport,
        allow: decided.allow,
        reasons: decided.reasons,
        action: asked.action,
        resource: resource ? { type: resource.type, id: resource.id } : undefined,
        tenant: subject?.tenant ?? asked.tenant,
        sub: subject?.sub,
        client_id: subject?.clientId,
        act: subject && subject.act.length > 0 ? subject.act : undefined,
        scopes: subject?.scopes,
        iss: learned.issuer,
        jti: typeof jti === 'string' ? jti : undefined,
        token_hash: learned.tokenHash,
        decided_by: decided.decidedBy,
        policy,
        policy_cached: cached ? true : undefined,
        latency_us: Math.round(decided.latencyUs),
        request_id: asked.requestId,
        dry_run: dryRun ? true : undefined,
        revocation: learned.revocation
          ? { id: learned.revocation.id, kind: learned.revocation.kind }
          : undefined,
        eval_ns: evalNs !== undefined ? Math.round(evalNs) : undefined,
        peer: asked.peer,
        mcp: mcpFactsOf(asked.context),
        input: learned.input ?? askedInputOf(asked),
        // Last: a computed key ends the literal's preset shape, so everything before stays fast.
        [RECORD_SHAPE]: cached ? shapeOf(outcome, decided.reasons, dryRun) : undefined,
      };
    },
  };
}

/**
 * The record's `mcp` member: the message's method and session as the adapter put them in
 * `context.mcp` (so a query can find every call of a tool in one session), strings only; the
 * arguments stay in `input`, where masking reaches them.
 */
function mcpFactsOf(context: AskedFacts['context']): DecisionAuditRecord['mcp'] {
  const mcp = context?.['mcp'];
  if (typeof mcp !== 'object' || mcp === null) return undefined;
  const m = mcp as Readonly<Record<string, unknown>>;
  const text = (key: string) => (typeof m[key] === 'string' ? m[key] : undefined);
  return {
    method: text('method'),
    session_id: text('session_id'),
    resource_uri: text('resource'),
    protocol_version: text('protocol_version'),
    listing: m['listing'] === true ? true : undefined,
  };
}

/**
 * The record's `input` when no policy ran (a refused token, a tenant mismatch): what was asked,
 * never the token. Built field by field so nothing of the request is referenced by accident.
 */
function askedInputOf(asked: AskedFacts): object {
  return {
    action: asked.action,
    ...(asked.resource ? { resource: asked.resource } : {}),
    ...(asked.tenant !== undefined ? { tenant: asked.tenant } : {}),
    context: asked.context ?? {},
    transport: asked.transport,
  };
}
