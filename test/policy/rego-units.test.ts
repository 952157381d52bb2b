// Runs the shipped policies' own Rego unit tests with the real `opa test`, one unit at a time as they are compiled.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { locateOpa } from '../../src/policy/opa-cli.js';
import { SHIPPED_POLICIES } from './fixtures.js';

const run = promisify(execFile);
const opa = locateOpa();

const tenants = readdirSync(join(SHIPPED_POLICIES, 'tenants'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join('tenants', entry.name));
const units = ['base', ...tenants];

describe.each(units)('policies/%s', (unit) => {
  it('passes its opa tests', async () => {
    // opa exits non-zero when a test fails; its JSON report still says which, so read it either way.
    const stdout = await run(opa, ['test', '--format', 'json', unit], {
      cwd: SHIPPED_POLICIES,
    }).then(
      (done) => done.stdout,
      (failed: { stdout?: string; message: string }) => failed.stdout || failed.message,
    );
    const results = JSON.parse(stdout) as { name: string; fail?: boolean; error?: unknown }[];
    expect(results.length).toBeGreaterThan(0);
    expect(
      results.filter((result) => result.fail || result.error).map((result) => result.name),
    ).toEqual([]);
  });

  it('passes opa check --strict', async () => {
    await run(opa, ['check', '--strict', unit], { cwd: SHIPPED_POLICIES });
  });

  it('is formatted with opa fmt', async () => {
    const { stdout } = await run(opa, ['fmt', '--list', unit], { cwd: SHIPPED_POLICIES });
    expect(stdout.trim()).toBe('');
  });
});
