// What the policy directory's load steps share: the source's options, what it compiled, and the small helpers every step uses.
import { createHash } from 'node:crypto';
import type { PolicyConfig } from '../config/types.js';
import { mergeDataFiles } from './data-files.js';
import type { GroupMember } from './host-group.js';
import { PINNED_OPA_VERSION } from './opa-cli.js';
import { type UnitCompiler, createUnitCompiler } from './unit-compiler.js';
import type { PolicyLogger, PolicyObserver, UnitRegistry } from './unit-registry.js';
import { type UnitSnapshot, readUnitSnapshot } from './unit-sources.js';

/** A directory tenant as last compiled successfully. */
export interface DirMember {
  readonly snapshot: UnitSnapshot;
  readonly data: Record<string, unknown>;
}

/** The start-up pack a tenant belongs to: stable across restarts for the same pack count. */
export function stablePack(tenant: string, packs: number): number {
  return createHash('sha256').update(tenant).digest().readUInt32BE(0) % packs;
}

/** What the directory steps share: the source's options and what it compiled. */
export interface DirContext {
  readonly config: PolicyConfig;
  readonly registry: UnitRegistry;
  readonly logger: PolicyLogger;
  readonly observer: PolicyObserver;
  readonly concurrency: number;
  /** Unit ids served by bundles. */
  readonly bundleUnits: ReadonlySet<string>;
  readonly policyDir: string;
  readonly perModule: number;
  /** Directory tenants as last compiled successfully, by tenant id. */
  readonly dirMembers: Map<string, DirMember>;
  /** Packs the tenants were spread over at start-up. */
  packCount: number;
  compiler: UnitCompiler | undefined;
}

/** The unit compiler, created (and its opa version checked) on first use. */
export async function getCompiler(ctx: DirContext): Promise<UnitCompiler> {
  const { config, logger } = ctx;
  if (ctx.compiler !== undefined) return ctx.compiler;
  ctx.compiler = await createUnitCompiler({
    ...(config.opaPath !== undefined && { opaPath: config.opaPath }),
    ...(config.cacheDir !== undefined && { cacheDir: config.cacheDir }),
  });
  if (ctx.compiler.opaVersion !== PINNED_OPA_VERSION) {
    logger.warn(
      { opa: ctx.compiler.opa.path, version: ctx.compiler.opaVersion, pinned: PINNED_OPA_VERSION },
      'opa version differs from the pinned one; policies are tested against the pinned version',
    );
  }
  return ctx.compiler;
}

/** Reads a unit from the directory with its merged data. */
export async function snapshotOf(ctx: DirContext, kind: 'base' | 'tenant', tenant?: string) {
  const { policyDir } = ctx;
  const snapshot = await readUnitSnapshot(policyDir, kind, tenant);
  const data = mergeDataFiles(snapshot.id, snapshot.dataFiles);
  return { snapshot, data };
}

/** A compiled directory unit as a member of a module group. */
export function memberOf(
  snapshot: UnitSnapshot,
  data: Record<string, unknown>,
  entrypoint: string,
): GroupMember {
  return {
    id: snapshot.id,
    kind: snapshot.kind,
    ...(snapshot.tenant !== undefined && { tenant: snapshot.tenant }),
    revision: snapshot.revision,
    origin: 'dir',
    codeHash: snapshot.regoHash,
    entrypoint,
    data,
  };
}
