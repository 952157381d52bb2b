// Unpacks what `opa build -t wasm` writes (a gzipped tar) into the Wasm module and the unit's data.
import { gunzipSync } from 'node:zlib';
import { RESERVED_DATA_KEY } from './conventions.js';
import { PolicyError } from './errors.js';
import { readTar } from './tar-reader.js';

/** A compiled unit, ready to instantiate. */
export interface WasmBundle {
  readonly wasm: Uint8Array;
  /** The unit's data document as opa merged it from the unit's data files; `{}` when it has none. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Compiled policies are small; anything near this is not a bundle we wrote. */
const MAX_UNPACKED_BYTES = 256 * 1024 * 1024;

/** Reads `/policy.wasm` and `/data.json` from a bundle. Throws {@link PolicyError} `bundle_invalid`. */
export async function readWasmBundle(gzipped: Uint8Array, unit: string): Promise<WasmBundle> {
  let files;
  try {
    files = await readTar(gunzipSync(gzipped, { maxOutputLength: MAX_UNPACKED_BYTES }));
  } catch (cause) {
    throw new PolicyError('bundle_invalid', `${unit}: cannot unpack the bundle opa wrote`, {
      unit,
      cause,
    });
  }

  const wasm = files.find((file) => file.path === 'policy.wasm')?.data;
  if (wasm === undefined) {
    throw new PolicyError('bundle_invalid', `${unit}: the bundle opa wrote has no policy.wasm`, {
      unit,
    });
  }

  const dataFile = files.find((file) => file.path === 'data.json')?.data;
  let data: unknown = {};
  if (dataFile !== undefined) {
    try {
      data = JSON.parse(new TextDecoder().decode(dataFile));
    } catch (cause) {
      throw new PolicyError('bundle_invalid', `${unit}: the bundle's data.json is not JSON`, {
        unit,
        cause,
      });
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new PolicyError('bundle_invalid', `${unit}: data must be a JSON object`, { unit });
  }
  if (Object.hasOwn(data, RESERVED_DATA_KEY)) {
    throw new PolicyError(
      'bundle_invalid',
      `${unit}: data must not have a top-level "${RESERVED_DATA_KEY}" key; it is reserved for the policy packages`,
      { unit },
    );
  }
  return { wasm, data: data as Record<string, unknown> };
}
