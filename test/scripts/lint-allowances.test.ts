// The temporary allowances in eslint.config.js name files and imports that still exist, so none outlives its fix unnoticed.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const { KNOWN_VIOLATIONS, MODULE_STATE_KNOWN, OVERSIZED } = (await import(
  pathToFileURL(join(ROOT, 'eslint.config.js')).href
)) as {
  KNOWN_VIOLATIONS: readonly { file: string; import: string }[];
  MODULE_STATE_KNOWN: readonly string[];
  OVERSIZED: readonly string[];
};

describe('eslint.config.js allowances', () => {
  it('every KNOWN_VIOLATIONS entry names a file that still has that import', () => {
    const stale = KNOWN_VIOLATIONS.filter(
      (v) => !existsSync(join(ROOT, v.file)) || !read(v.file).includes(`from '${v.import}'`),
    );
    expect(stale).toEqual([]);
  });

  it('every OVERSIZED file exists and is still over a size limit', async () => {
    const eslint = new ESLint({
      cwd: ROOT,
      overrideConfigFile: true,
      overrideConfig: {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        rules: { 'max-lines': ['error', 400], 'max-lines-per-function': ['error', 150] },
      },
    });
    const present = OVERSIZED.filter((file) => existsSync(join(ROOT, file)));
    // lintFiles([]) would lint the whole repository: with nothing listed there is nothing to check.
    const results =
      present.length === 0 ? [] : await eslint.lintFiles(present.map((file) => join(ROOT, file)));
    const within = results
      .filter((r) => r.errorCount === 0)
      .map((r) => r.filePath.slice(ROOT.length + 1));
    expect([...OVERSIZED.filter((file) => !present.includes(file)), ...within]).toEqual([]);
  }, 60_000);

  it('every MODULE_STATE_KNOWN file exists', () => {
    expect(MODULE_STATE_KNOWN.filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
  });
});
