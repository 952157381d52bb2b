// Turns one compiled module plus its units' data into ready-to-swap units: one instance, one data slot per unit.
import type { JsBuiltin } from './builtins.js';
import { assertBuiltinsSupported } from './builtins.js';
import type { UnitKind } from './conventions.js';
import { readVerdict } from './decision-reader.js';
import { PolicyError, describeThrown } from './errors.js';
import type { LayerResult } from './types.js';
import { type CompiledModule, type HostSlot, instantiateHost } from './wasm-host.js';

/** Where a unit's policy came from. */
export type UnitOrigin = 'dir' | 'bundle';

/** A unit ready to evaluate. Immutable: a reload builds a new one and swaps it in. */
export interface ActiveUnit {
  /** `base` or `tenant:<id>`. */
  readonly id: string;
  readonly kind: UnitKind;
  readonly tenant?: string;
  readonly revision: string;
  readonly origin: UnitOrigin;
  /** The module instance serving it: `pack:<n>`, `solo:<id>` or `bundle:<wasm hash prefix>`. */
  readonly group: string;
  /** sha256 of the Rego (dir units) or of the Wasm (bundles): equal means a data-only change. */
  readonly codeHash: string;
  /** When it was activated, ms since the epoch. */
  readonly activatedAt: number;
  /** Its module imports `time.now_ns`: its answers may change with time, so they are never cached. */
  readonly readsClock: boolean;
  /** Evaluates the unit's decision over the input document (JSON text). Never throws. */
  evaluate(input: Uint8Array): LayerResult;
}

/** One unit to place in a group's instance. */
export interface GroupMember {
  readonly id: string;
  readonly kind: UnitKind;
  readonly tenant?: string;
  readonly revision: string;
  readonly origin: UnitOrigin;
  readonly codeHash: string;
  /** Entrypoint of its decision in the module. */
  readonly entrypoint: string;
  readonly data: Readonly<Record<string, unknown>>;
}

const EVAL_FAILED = Object.freeze([
  Object.freeze({ code: 'policy_denied', message: 'policy evaluation failed' }),
]);

/**
 * Instantiates `compiled` once and loads every member's data into it. Throws {@link PolicyError}
 * (`load_failed`, `unsupported_builtin`) naming `label`; nothing is half-built on failure.
 */
export async function buildGroup(
  label: string,
  group: string,
  compiled: CompiledModule,
  members: readonly GroupMember[],
  builtins: Readonly<Record<string, JsBuiltin>>,
  onError: (unit: string, message: string) => void,
): Promise<Map<string, ActiveUnit>> {
  const builder = await instantiateHost(compiled, builtins, label);
  // Modules compiled elsewhere (bundles) are checked here; our own compiles already used the capabilities.
  assertBuiltinsSupported(label, builder.builtins, builtins);
  const slots: [GroupMember, HostSlot][] = [];
  for (const member of members) {
    const entrypoint = builder.entrypoints[member.entrypoint];
    if (typeof entrypoint !== 'number') {
      throw new PolicyError(
        'load_failed',
        `${member.id}: the Wasm module has no entrypoint ${member.entrypoint}`,
        {
          unit: member.id,
        },
      );
    }
    let dataAddr: number;
    try {
      dataAddr = builder.loadData(member.data);
    } catch (cause) {
      throw new PolicyError(
        'load_failed',
        `${member.id}: cannot load data: ${describeThrown(cause)}`,
        {
          unit: member.id,
          cause,
        },
      );
    }
    slots.push([member, { entrypoint, dataAddr }]);
  }
  const host = builder.seal();
  const activatedAt = Date.now();
  // Per module, not per unit: one tenant of a pack reading the clock makes the whole pack uncached.
  const readsClock = builder.builtins.includes('time.now_ns');
  const units = new Map<string, ActiveUnit>();
  for (const [member, slot] of slots) {
    const { id, kind, revision } = member;
    units.set(id, {
      id,
      kind,
      ...(member.tenant !== undefined && { tenant: member.tenant }),
      revision,
      origin: member.origin,
      group,
      codeHash: member.codeHash,
      activatedAt,
      readsClock,
      evaluate(input) {
        const started = process.hrtime.bigint();
        let resultSet: unknown;
        try {
          resultSet = host.evaluate(slot, input);
        } catch (thrown) {
          onError(id, describeThrown(thrown));
          return {
            allow: false,
            reasons: EVAL_FAILED,
            revision,
            evalNs: Number(process.hrtime.bigint() - started),
            failed: true,
          };
        }
        const verdict = readVerdict(resultSet, kind);
        return {
          allow: verdict.allow,
          reasons: verdict.reasons,
          revision,
          evalNs: Number(process.hrtime.bigint() - started),
        };
      },
    });
  }
  return units;
}
