// Watch mode under stress: rename-saves immediately followed by in-place writes of the same file, with a busy event loop, never lose a change.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../src/policy/engine.js';
import type { PolicyEngine } from '../../src/policy/types.js';
import {
  ALLOW_ALL_BASE,
  delegatedSubject,
  makePolicyDir,
  policyInput,
  recordingLogger,
} from './fixtures.js';

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  // Last first: the engine stops before its directory is removed.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const input = policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read']));
const POLICY = `package mandate.tenant\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": data.version}]}\n`;

const messageOf = (engine: PolicyEngine) => engine.evaluate('t', input).reasons[0]?.message;

/** Resolves once `condition` holds; rejects with `what` after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not seen in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Keeps the event loop busy in short bursts (as a loaded sidecar would be) until stopped. */
function busyLoop(burstMs: number): () => void {
  let stopped = false;
  const spin = () => {
    if (stopped) return;
    const end = Date.now() + burstMs;
    while (Date.now() < end) {
      // Busy on purpose: delays the watcher's callbacks so races between its events widen.
    }
    setImmediate(spin);
  };
  setImmediate(spin);
  return () => {
    stopped = true;
  };
}

/** A policy directory with tenant `t` (its message is its data's `version`), watched by a started engine. */
async function watchedTenant(): Promise<{ dir: string; engine: PolicyEngine }> {
  const { dir, remove } = await makePolicyDir({
    base: ALLOW_ALL_BASE,
    tenants: { t: { 'policy.rego': POLICY, 'data.json': JSON.stringify({ version: 'v0' }) } },
  });
  cleanups.push(remove);
  const engine = createPolicyEngine({
    config: { dir, watch: true, watchDebounceMs: 5 },
    logger: recordingLogger(),
  });
  cleanups.push(() => engine.stop());
  await engine.start();
  return { dir, engine };
}

describe('watch mode under stress', () => {
  it('sees every in-place write that lands right after a rename-save of the same file', async () => {
    const { dir, engine } = await watchedTenant();
    const data = join(dir, 'tenants', 't', 'data.json');
    const stop = busyLoop(3);
    try {
      for (let i = 0; i < 60; i += 1) {
        // An atomic save (write beside, rename over), then, as soon as it is in force, an in-place write.
        await writeFile(`${data}.tmp-save`, JSON.stringify({ version: `renamed-${i}` }));
        await rename(`${data}.tmp-save`, data);
        await until(() => messageOf(engine) === `renamed-${i}`, `rename-save ${i}`, 5000);
        await writeFile(data, JSON.stringify({ version: `in-place-${i}` }));
        await until(() => messageOf(engine) === `in-place-${i}`, `in-place write ${i}`, 5000);
      }
    } finally {
      stop();
    }
    expect(messageOf(engine)).toBe('in-place-59');
  });

  it('keeps watching a unit whose directory was replaced, and a sub-directory created later', async () => {
    const { dir, engine } = await watchedTenant();
    const unit = join(dir, 'tenants', 't');
    // Replaced by a rename (a new directory, so a new inode, at the same path), as sync tools do.
    const staged = join(dir, 'staged');
    await mkdir(staged);
    await writeFile(join(staged, 'policy.rego'), POLICY);
    await writeFile(join(staged, 'data.json'), JSON.stringify({ version: 'replaced' }));
    await rm(unit, { recursive: true });
    await rename(staged, unit);
    await until(() => messageOf(engine) === 'replaced', 'the replaced directory', 5000);
    await writeFile(join(unit, 'data.json'), JSON.stringify({ version: 'edited' }));
    await until(() => messageOf(engine) === 'edited', 'a write in the replaced directory', 5000);
    // Data in a sub-directory created after start is data.sub; its later writes are seen too.
    await mkdir(join(unit, 'sub'));
    await writeFile(join(unit, 'sub', 'data.json'), JSON.stringify({ n: 1 }));
    await writeFile(join(unit, 'data.json'), JSON.stringify({ version: 'with-sub' }));
    await until(() => messageOf(engine) === 'with-sub', 'a write beside a new sub-directory', 5000);
    const revision = engine.revisions().tenants.t;
    await writeFile(join(unit, 'sub', 'data.json'), JSON.stringify({ n: 2 }));
    await until(
      () => engine.revisions().tenants.t !== revision,
      'a write in the new sub-directory',
      5000,
    );
  });
});
