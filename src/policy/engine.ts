// The policy engine: compiles base and every tenant's Rego to Wasm at start, then decides base AND tenant per request.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { PolicyConfig } from '../config/types.js';
import type { ComponentState, ComponentStatus } from '../lib/lifecycle.js';
import { createDecisionClock } from './builtins.js';
import { BASE_DIR, UNIT_ENTRYPOINT, type UnitKind } from './conventions.js';
import { PolicyError, describeThrown } from './errors.js';
import { PINNED_OPA_VERSION, type OpaCli, createOpaCli } from './opa-cli.js';
import { mapSettledLimited } from './map-limited.js';
import type { LayerResult, PolicyEngine, PolicyOutcome, PolicyReason } from './types.js';
import { type UnitSource, listTenants, readUnitSource, unitId } from './unit-sources.js';
import { readWasmBundle } from './wasm-bundle.js';
import { type WasmUnit, loadWasmUnit } from './wasm-unit.js';

/** The logging the engine does; pino's logger fits. Objects first, message second. */
export interface PolicyLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export interface PolicyEngineOptions {
  readonly config: PolicyConfig;
  /** Where load results and policy runtime errors go. Default: nowhere. */
  readonly logger?: PolicyLogger;
  /**
   * The clock behind Rego's `time.now_ns()`: nanoseconds since the Unix epoch. Read at most once per
   * evaluate() call (when a policy first asks), so base and tenant see the same instant.
   * Default: the wall clock, millisecond resolution.
   */
  readonly now?: () => bigint | number;
  /** Units compiled at once (each is an `opa build` process). Default: 2, or 1 on a single core. */
  readonly compileConcurrency?: number;
}

/** A tenant whose unit could not be prepared: it keeps a ready-made deny, so its requests fail closed. */
interface FailedUnit {
  readonly id: string;
  readonly revision?: string;
  readonly error: PolicyError;
  readonly deny: LayerResult;
}

type TenantEntry = { readonly unit: WasmUnit } | { readonly failed: FailedUnit };

interface LoadedPolicies {
  readonly base: WasmUnit;
  readonly tenants: ReadonlyMap<string, TenantEntry>;
  readonly opa: { readonly path: string; readonly version: string };
}

type Prepared =
  | { readonly ok: true; readonly unit: WasmUnit; readonly ms: number }
  | {
      readonly ok: false;
      readonly id: string;
      readonly source?: UnitSource;
      readonly error: PolicyError;
    };

const silent: PolicyLogger = { info() {}, warn() {}, error() {} };

function asPolicyError(thrown: unknown, id: string): PolicyError {
  if (thrown instanceof PolicyError) return thrown;
  return new PolicyError('load_failed', `${id}: ${describeThrown(thrown)}`, {
    unit: id,
    cause: thrown,
  });
}

function frozenDeny(code: string, message: string, revision: string): LayerResult {
  return Object.freeze({
    allow: false,
    reasons: Object.freeze([Object.freeze({ code, message })]),
    revision,
    evalNs: 0,
  });
}

const NOT_STARTED_LAYER = frozenDeny('internal_error', 'the policy engine is not started', '');

const NOT_STARTED: PolicyOutcome = Object.freeze({
  allow: false,
  decidedBy: 'base',
  reasons: NOT_STARTED_LAYER.reasons,
  base: NOT_STARTED_LAYER,
});

const NO_REASONS: readonly PolicyReason[] = Object.freeze([]);

/** Builds the engine. Nothing is compiled until start(). */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const logger = options.logger ?? silent;
  const policyDir = resolve(options.config.dir);
  const concurrency = options.compileConcurrency ?? Math.min(2, availableParallelism());
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError('compileConcurrency must be a positive integer');
  }
  const clock = createDecisionClock(options.now);
  const encoder = new TextEncoder();

  let loaded: LoadedPolicies | undefined;
  let lastFailure: PolicyError | undefined;
  const evalErrors = new Map<string, number>();

  function onEvalError(unit: string, message: string): void {
    const count = (evalErrors.get(unit) ?? 0) + 1;
    evalErrors.set(unit, count);
    // A policy that fails on every request must not flood the log: 1st, 10th, 100th, ...
    if (/^10*$/.test(String(count))) {
      logger.error({ unit, count, error: message }, 'policy evaluation failed; request denied');
    }
  }

  async function prepare(opa: OpaCli, kind: UnitKind, tenant?: string): Promise<Prepared> {
    const id = unitId(kind, tenant);
    const started = performance.now();
    let source: UnitSource | undefined;
    try {
      source = await readUnitSource(policyDir, kind, tenant);
      const gzipped = await opa.buildWasm({
        cwd: policyDir,
        path: source.path,
        entrypoint: UNIT_ENTRYPOINT[kind],
        unit: id,
      });
      const unit = await loadWasmUnit({
        source,
        bundle: readWasmBundle(gzipped, id),
        builtins: clock.builtins,
        onError: onEvalError,
      });
      return { ok: true, unit, ms: Math.round(performance.now() - started) };
    } catch (thrown) {
      return { ok: false, id, ...(source && { source }), error: asPolicyError(thrown, id) };
    }
  }

  async function load(): Promise<LoadedPolicies> {
    const opa = createOpaCli(
      options.config.opaPath === undefined ? {} : { opaPath: options.config.opaPath },
    );
    const version = await opa.version();
    if (version !== PINNED_OPA_VERSION) {
      logger.warn(
        { opa: opa.path, version, pinned: PINNED_OPA_VERSION },
        'opa version differs from the pinned one; policies are tested against the pinned version',
      );
    }

    const tenantIds = await listTenants(policyDir);
    const jobs: { kind: UnitKind; tenant?: string }[] = [
      { kind: 'base' },
      ...tenantIds.map((tenant) => ({ kind: 'tenant' as const, tenant })),
    ];
    const settled = await mapSettledLimited(jobs, concurrency, (job) =>
      prepare(opa, job.kind, job.tenant),
    );
    // prepare() never rejects; a rejection here would be a bug in it.
    const prepared = settled.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });

    const [base, ...tenantResults] = prepared;
    if (base === undefined || !base.ok) {
      const error = base?.ok === false ? base.error : undefined;
      throw new PolicyError(
        error?.code ?? 'load_failed',
        `cannot load the base policy (${resolve(policyDir, BASE_DIR)}): ${error?.message ?? 'unknown error'}`,
        {
          unit: 'base',
          ...(error && { problems: error.problems, builtins: error.builtins, cause: error }),
        },
      );
    }
    logger.info(
      { unit: 'base', revision: base.unit.source.revision, compileMs: base.ms },
      'policy loaded',
    );

    const tenants = new Map<string, TenantEntry>();
    tenantResults.forEach((result, index) => {
      const tenant = tenantIds[index]!;
      if (result.ok) {
        tenants.set(tenant, { unit: result.unit });
        logger.info(
          {
            unit: result.unit.source.id,
            revision: result.unit.source.revision,
            compileMs: result.ms,
          },
          'policy loaded',
        );
        return;
      }
      const revision = result.source?.revision;
      tenants.set(tenant, {
        failed: {
          id: result.id,
          ...(revision !== undefined && { revision }),
          error: result.error,
          // Callers learn only that the tenant's policy is unavailable; the details are for operators.
          deny: frozenDeny(
            'policy_denied',
            `the policy of tenant ${tenant} failed to load; its requests are denied until it is fixed`,
            revision ?? '',
          ),
        },
      });
      logger.error(
        { unit: result.id, code: result.error.code, error: result.error.message },
        'tenant policy failed to load; denying all of its requests (fail closed)',
      );
    });

    return { base: base.unit, tenants, opa: { path: opa.path, version } };
  }

  function layerStatus(entry: TenantEntry): Record<string, unknown> {
    if ('unit' in entry) {
      const errors = evalErrors.get(entry.unit.source.id);
      return {
        state: 'OK',
        revision: entry.unit.source.revision,
        ...(errors !== undefined && { evalErrors: errors }),
      };
    }
    const { failed } = entry;
    return {
      state: 'ERROR',
      ...(failed.revision !== undefined && { revision: failed.revision }),
      code: failed.error.code,
      error: failed.error.message,
    };
  }

  return {
    evaluate(tenant, input) {
      const state = loaded;
      if (state === undefined) return NOT_STARTED;

      clock.begin();
      // One serialisation per decision, shared by both layers: opa-wasm copies the bytes as they are.
      const bytes = encoder.encode(JSON.stringify(input ?? null));
      const json =
        bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;

      const base = state.base.evaluate(json as ArrayBuffer);
      if (!base.allow) return { allow: false, decidedBy: 'base', reasons: base.reasons, base };

      const entry = tenant === undefined ? undefined : state.tenants.get(tenant);
      if (entry === undefined) return { allow: true, decidedBy: 'base', reasons: NO_REASONS, base };

      const layer = 'unit' in entry ? entry.unit.evaluate(json as ArrayBuffer) : entry.failed.deny;
      if (!layer.allow) {
        return { allow: false, decidedBy: 'tenant', reasons: layer.reasons, base, tenant: layer };
      }
      return { allow: true, decidedBy: 'base', reasons: NO_REASONS, base, tenant: layer };
    },

    revisions() {
      const tenants: Record<string, string> = {};
      if (loaded === undefined) return { tenants };
      for (const [tenant, entry] of loaded.tenants) {
        if ('unit' in entry) tenants[tenant] = entry.unit.source.revision;
      }
      return { base: loaded.base.source.revision, tenants };
    },

    async start() {
      let next: LoadedPolicies;
      try {
        next = await load();
      } catch (thrown) {
        lastFailure = asPolicyError(thrown, 'base');
        logger.error(
          { code: lastFailure.code, error: lastFailure.message },
          'policies failed to load',
        );
        throw lastFailure;
      }
      // Swapped in one assignment: an evaluate() sees either the old set or the new, never a mix.
      loaded = next;
      lastFailure = undefined;
      evalErrors.clear();
    },

    async stop() {
      loaded = undefined;
      lastFailure = undefined;
    },

    status(): ComponentStatus {
      const state = loaded;
      if (state === undefined) {
        return lastFailure === undefined
          ? { state: 'NOT_READY', message: 'policies are not loaded' }
          : { state: 'ERROR', message: lastFailure.message, detail: { code: lastFailure.code } };
      }
      const tenants: Record<string, unknown> = {};
      const failed: string[] = [];
      for (const [tenant, entry] of state.tenants) {
        tenants[tenant] = layerStatus(entry);
        if ('failed' in entry) failed.push(tenant);
      }
      const baseErrors = evalErrors.get('base');
      const detail = {
        opa: state.opa,
        base: {
          state: 'OK',
          revision: state.base.source.revision,
          ...(baseErrors !== undefined && { evalErrors: baseErrors }),
        },
        tenants,
      };
      const overall: ComponentState =
        failed.length === 0 && lastFailure === undefined ? 'OK' : 'WARN';
      const problems: string[] = [];
      if (failed.length > 0) {
        problems.push(
          `policies failed to load for tenant(s) ${failed.join(', ')}; their requests are denied`,
        );
      }
      if (lastFailure !== undefined) {
        problems.push(`reload failed, still serving the previous policies: ${lastFailure.message}`);
      }
      return {
        state: overall,
        message:
          problems.length === 0
            ? `base ${state.base.source.revision}, ${state.tenants.size} tenant polic${state.tenants.size === 1 ? 'y' : 'ies'}`
            : problems.join('; '),
        detail,
      };
    },
  };
}
