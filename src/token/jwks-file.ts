// Keys from a JWKS file read once at start: for air-gapped setups and the local dev issuer.
import { readFile } from 'node:fs/promises';
import type { KeySource } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { tokenFailure } from './errors.js';
import type { KeyResolver } from './key-resolver.js';
import { importKeySet, type KeySet } from './key-set.js';

export interface FileKeyResolverOptions {
  readonly source: Extract<KeySource, { kind: 'jwks_file' }>;
  /** Algorithms to import keys for (the issuer's allow-list). */
  readonly algorithms: readonly string[];
}

/**
 * A key resolver backed by a JWKS file. `start()` rejects with an error naming the path when the
 * file cannot be read, is not a JWK Set, or holds no usable key: a broken file is a configuration
 * mistake and should stop the sidecar from starting rather than refuse every token later.
 */
export function createFileKeyResolver(options: FileKeyResolverOptions): KeyResolver {
  const { path } = options.source;
  let keys: KeySet | undefined;

  return {
    resolve(query) {
      if (keys === undefined) return tokenFailure('jwks_unavailable');
      const key = keys.find(query.kid, query.alg);
      return key === undefined ? tokenFailure('key_not_found') : { ok: true, key };
    },

    async start() {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path, 'utf8'));
      } catch (error) {
        throw new Error(`cannot load JWKS file ${path}: ${reason(error)}`, { cause: error });
      }
      let set: KeySet;
      try {
        set = await importKeySet(json, options.algorithms);
      } catch (error) {
        throw new Error(`invalid JWKS file ${path}: ${reason(error)}`, { cause: error });
      }
      if (set.size === 0) {
        throw new Error(`JWKS file ${path} has no usable signing key for the allowed algorithms`);
      }
      keys = set;
    },

    async stop() {},

    status(): ComponentStatus {
      return keys === undefined
        ? { state: 'NOT_READY', message: `JWKS file ${path} not loaded` }
        : { state: 'OK', message: `${keys.size} key(s) loaded from file` };
    },
  };
}

function reason(error: unknown): string {
  if (error instanceof SyntaxError) return 'not valid JSON';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}
