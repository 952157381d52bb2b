// Every relative link in README.md, SECURITY.md and docs/ points at a file and heading that exist, and every test file they name exists.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsIn, relativeLinks } from './markdown.js';

const ROOT = resolve(import.meta.dirname, '../..');
const files = [
  'README.md',
  'SECURITY.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
].filter((file) => existsSync(join(ROOT, file)));

describe.each(files)('links in %s', (file) => {
  it('resolve to existing files and headings', () => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const broken: string[] = [];
    for (const link of relativeLinks(text)) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), path);
      if (!existsSync(target)) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (anchor !== undefined && target.endsWith('.md')) {
        if (!anchorsIn(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: no such heading`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

describe.each(files)('test files named in %s', (file) => {
  it('exist, so each promise that names its test keeps one', () => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const named = [...text.matchAll(/\btest\/[\w./-]+\.test\.ts\b/g)].map((m) => m[0]);
    expect(named.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });
});
