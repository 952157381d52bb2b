// The docs and the dev banner never tell users to capture `npm run mandate` output: npm's banner would end up in it.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const files = [
  'README.md',
  'src/cli/serve.ts',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('npm run mandate', () => {
  it.each(files)(
    '%s runs the CLI as mandate / node dist/cli/main.js, or npm run --silent',
    (file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const loud = text
        .split('\n')
        .filter(
          (line) => /npm run mandate\b/.test(line) && !/`npm run mandate -- …` works/.test(line),
        );
      expect(loud).toEqual([]);
    },
  );
});
