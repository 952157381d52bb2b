// OPA's bundle format for one policy unit: a gzipped tar with /.manifest, /policy.wasm, /data.json, optional /.signatures.json.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { mergeDataFiles } from './data-files.js';
import { PolicyError } from './errors.js';
import { type TarFile, readTar } from './tar-reader.js';
import { writeTar } from './tar-writer.js';

/** `.manifest` as OPA defines it (the fields mandate reads and writes). */
export interface BundleManifest {
  readonly revision?: string;
  readonly roots?: readonly string[];
  readonly wasm?: readonly { readonly entrypoint: string; readonly module: string }[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly rego_version?: number;
}

/** A bundle read into memory, not yet verified or activated. */
export interface PolicyBundle {
  /** Every regular file, paths without the leading `/` (as signatures name them). */
  readonly files: readonly TarFile[];
  readonly manifest: BundleManifest;
  /** The module serving `entrypoint`. */
  readonly wasm: Uint8Array;
  /** sha256 (hex) of `wasm`. */
  readonly wasmHash: string;
  /** The data document: every `data.json` / `data.yaml`, mounted at its folder. */
  readonly data: Record<string, unknown>;
  /** `.signatures.json` as text, when the bundle has one. */
  readonly signatures?: string;
  /** The revision to show: the manifest's, else a hash of the archive. */
  readonly revision: string;
}

/** Bundles are policies and data, not media: anything this large is refused before unpacking further. */
export const MAX_BUNDLE_UNPACKED_BYTES = 256 * 1024 * 1024;

/** Name of the signatures file inside a bundle. */
export const SIGNATURES_FILE = '.signatures.json';

/**
 * Reads a gzipped bundle for a unit whose decision is at `entrypoint`. Throws {@link PolicyError}
 * `bundle_invalid` naming what is wrong (not gzip/tar, no manifest entry or module for the
 * entrypoint, data not an object or using the reserved key).
 */
export async function readPolicyBundle(
  gzipped: Uint8Array,
  unit: string,
  entrypoint: string,
): Promise<PolicyBundle> {
  let files: TarFile[];
  try {
    files = await readTar(gunzipSync(gzipped, { maxOutputLength: MAX_BUNDLE_UNPACKED_BYTES }));
  } catch (cause) {
    throw new PolicyError('bundle_invalid', `${unit}: the bundle is not a gzipped tar archive`, {
      unit,
      cause,
    });
  }
  const byPath = new Map(files.map((file) => [file.path, file]));

  let manifest: BundleManifest = {};
  const manifestFile = byPath.get('.manifest');
  if (manifestFile !== undefined) {
    try {
      manifest = JSON.parse(new TextDecoder().decode(manifestFile.data)) as BundleManifest;
    } catch (cause) {
      throw new PolicyError('bundle_invalid', `${unit}: the bundle's .manifest is not JSON`, {
        unit,
        cause,
      });
    }
  }
  const declared = manifest.wasm?.find((entry) => entry.entrypoint === entrypoint);
  const modulePath = (declared?.module ?? '/policy.wasm').replace(/^\/+/, '');
  const wasm = byPath.get(modulePath)?.data;
  if (wasm === undefined) {
    throw new PolicyError(
      'bundle_invalid',
      `${unit}: the bundle has no Wasm module for entrypoint ${entrypoint} (expected ${modulePath})`,
      { unit },
    );
  }

  const dataFiles = files
    .filter((file) => /(^|\/)data\.(json|yaml)$/.test(file.path))
    .map((file) => ({
      path: file.path,
      content: file.data,
    }));
  let data: Record<string, unknown>;
  try {
    data = mergeDataFiles(unit, dataFiles);
  } catch (cause) {
    throw new PolicyError(
      'bundle_invalid',
      `${unit}: bad bundle data: ${(cause as Error).message}`,
      {
        unit,
        cause,
      },
    );
  }

  const signatures = byPath.get(SIGNATURES_FILE);
  const archiveHash = createHash('sha256').update(gzipped).digest('hex');
  return {
    files,
    manifest,
    wasm,
    wasmHash: createHash('sha256').update(wasm).digest('hex'),
    data,
    ...(signatures && { signatures: new TextDecoder().decode(signatures.data) }),
    revision:
      typeof manifest.revision === 'string' && manifest.revision !== ''
        ? manifest.revision
        : archiveHash.slice(0, 12),
  };
}

/** What `mandate policy build` puts in one unit's bundle. */
export interface BundleContents {
  readonly manifest: BundleManifest;
  readonly wasm: Uint8Array;
  readonly data: Readonly<Record<string, unknown>>;
  /** `.signatures.json` text, when signed. */
  readonly signatures?: string;
}

/** The files of a bundle before packing, as signatures name them (no leading `/`). */
export function bundleFiles(contents: Omit<BundleContents, 'signatures'>): TarFile[] {
  const encoder = new TextEncoder();
  return [
    { path: '.manifest', data: encoder.encode(JSON.stringify(contents.manifest)) },
    { path: 'policy.wasm', data: contents.wasm },
    { path: 'data.json', data: encoder.encode(JSON.stringify(contents.data)) },
  ];
}

/** Packs a unit's bundle (gzipped tar, paths with a leading `/` like `opa build`). */
export async function writePolicyBundle(contents: BundleContents): Promise<Uint8Array> {
  const files = bundleFiles(contents);
  if (contents.signatures !== undefined) {
    files.push({ path: SIGNATURES_FILE, data: new TextEncoder().encode(contents.signatures) });
  }
  return gzipSync(
    await writeTar(files.map((file) => ({ path: `/${file.path}`, data: file.data }))),
  );
}
