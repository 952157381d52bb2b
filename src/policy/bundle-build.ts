// Builds one unit's OPA-format bundle (manifest, Wasm, data, optional signature) from its sources: `mandate policy build`.
import { UNIT_ENTRYPOINT } from './conventions.js';
import { bundleFiles, writePolicyBundle, type BundleManifest } from './bundle-format.js';
import { type BundleSigner, signBundle } from './bundle-signing.js';
import { mergeDataFiles } from './data-files.js';
import type { UnitCompiler } from './unit-compiler.js';
import type { UnitSnapshot } from './unit-sources.js';

export interface UnitBundleOptions {
  /** Manifest revision. Default: the unit's content hash. */
  readonly revision?: string;
  /** Sign with this key (adds /.signatures.json). */
  readonly signer?: BundleSigner;
}

/** Compiles `snapshot` and packs its bundle (gzipped tar). Throws {@link PolicyError} as the compiler does. */
export async function buildUnitBundle(
  compiler: UnitCompiler,
  snapshot: UnitSnapshot,
  options: UnitBundleOptions = {},
): Promise<{ readonly bytes: Uint8Array; readonly revision: string }> {
  const data = mergeDataFiles(snapshot.id, snapshot.dataFiles);
  const wasm = await compiler.compileWasm(snapshot);
  const revision = options.revision ?? snapshot.revision;
  const manifest: BundleManifest = {
    revision,
    roots: [''],
    wasm: [{ entrypoint: UNIT_ENTRYPOINT[snapshot.kind], module: '/policy.wasm' }],
    metadata: { unit: snapshot.id, built_with: `opa ${compiler.opaVersion}` },
  };
  const contents = { manifest, wasm, data };
  const signatures =
    options.signer === undefined
      ? undefined
      : await signBundle(bundleFiles(contents), options.signer);
  return {
    bytes: await writePolicyBundle({
      ...contents,
      ...(signatures !== undefined && { signatures }),
    }),
    revision,
  };
}
