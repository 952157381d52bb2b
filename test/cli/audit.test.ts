// The built sidecar as a process: SIGKILL mid-stream loses no spooled record, stdout carries no token, `mandate audit tail` follows.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../helpers/collector.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const ADMIN_TOKEN = 'cli-audit-admin-token-0123456789abcdef0123';

interface Child {
  readonly proc: ChildProcess;
  readonly httpUrl: string;
  readonly adminUrl: string;
  stdout(): string;
  stderr(): string;
}

const children = new Set<ChildProcess>();
let collector: Collector;
let dir: string;
let config: string;
let token: string;

/** Starts `mandate serve --config` and resolves once it logs where it listens. */
function serve(): Promise<Child> {
  const proc = spawn(process.execPath, [MAIN, 'serve', '--config', config], {
    cwd: ROOT,
    env: { ...process.env, MANDATE_CONFIG: '' },
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving:\n${stderr}`)), 90_000);
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of stderr.split('\n')) {
        if (!line.includes('mandate is serving')) continue;
        const info = JSON.parse(line) as { http: string; admin: string };
        clearTimeout(timer);
        resolvePromise({
          proc,
          httpUrl: info.http,
          adminUrl: info.admin,
          stdout: () => stdout,
          stderr: () => stderr,
        });
        return;
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${stderr}`));
    });
  });
}

async function check(child: Child, body: Record<string, unknown>) {
  const res = await fetch(`${child.httpUrl}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** Checks from `workers` concurrent loops until `stop()`; each answer is kept with when it arrived. */
function stream(child: Child, workers = 4) {
  const answered: { id: string; at: number }[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_v, w) => {
    for (let i = 0; running; i++) {
      try {
        const body = await check(child, {
          action: 'contacts.read',
          resource: { type: 'contact', id: `c-${w}-${i}` },
          context: { note: `smuggled ${token}` },
        });
        answered.push({ id: body['decision_id'] as string, at: Date.now() });
      } catch {
        return; // the sidecar is gone
      }
    }
  });
  return {
    answered,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

function kill(child: Child, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolveKill) => {
    child.proc.once('exit', () => resolveKill());
    child.proc.kill(signal);
  });
}

beforeAll(async () => {
  collector = await startCollector();
  dir = mkdtempSync(join(tmpdir(), 'mandate-cli-audit-'));
  config = join(dir, 'mandate.yaml');
  writeFileSync(
    config,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
dev: { enabled: true, state_dir: "${dir}/state" }
policies: { dir: "${ROOT}/policies" }
admin: { tokens: ["${ADMIN_TOKEN}"] }
audit:
  sinks:
    - { driver: stdout }
    - driver: http
      url: "${collector.url}"
      batch_max_delay_ms: 50
      backoff_min_ms: 20
      backoff_max_ms: 200
      spool: { dir: "${dir}/spool" }
`,
  );
  const minted = spawnSync(
    process.execPath,
    [MAIN, 'token', 'mint', '--sub', 'user_8421', '--tenant', 'acme_inc'].concat([
      '--scope',
      'contacts.read',
      '--client',
      'agent-1',
      '--ttl',
      '30m',
    ]),
    {
      cwd: ROOT,
      env: { ...process.env, MANDATE_CONFIG: config },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  expect(minted.status, minted.stderr).toBe(0);
  token = minted.stdout.trim();
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await collector?.close();
});

// Each test starts real sidecar processes (policies compiled by opa at every start): generous limits.
const PROCESS_TEST_TIMEOUT_MS = 180_000;

describe('audit across a SIGKILL', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('delivers after restart every record spooled before the kill, with stable decision ids', async () => {
    await collector.down();
    const first = await serve();
    const load = stream(first);
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    await kill(first, 'SIGKILL');
    await load.stop();
    // A record reaches the spool one event-loop turn after its answer: only the last instant before
    // the kill may be missing (see the README). Everything answered earlier must arrive.
    const settled = load.answered.filter((a) => a.at < killedAt - 250).map((a) => a.id);
    expect(settled.length).toBeGreaterThan(20);
    expect(first.stdout()).not.toContain(token);

    await collector.up();
    const second = await serve();
    try {
      await collector.waitForEvents(settled.length, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      const delivered = collector.events.map((e) => e['decision_id'] as string);
      const deliveredSet = new Set(delivered);
      expect(settled.filter((id) => !deliveredSet.has(id))).toEqual([]);
      // Nothing was delivered before the kill, so nothing can have been sent twice.
      expect(deliveredSet.size).toBe(delivered.length);
      // Nothing that was never answered appears either.
      const answeredSet = new Set(load.answered.map((a) => a.id));
      expect(delivered.filter((id) => !answeredSet.has(id)).length).toBeLessThanOrEqual(
        workersSlack,
      );
      expect(collector.malformed).toEqual([]);
      expect(JSON.stringify(collector.events)).not.toContain(token);
    } finally {
      await kill(second, 'SIGTERM');
    }
  });

  it('is at-least-once when killed mid-delivery: a re-sent event keeps its decision_id', async () => {
    const before = collector.events.length;
    const first = await serve();
    const load = stream(first);
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    await kill(first, 'SIGKILL');
    await load.stop();
    const settled = load.answered.filter((a) => a.at < killedAt - 250).map((a) => a.id);

    const second = await serve();
    try {
      const deliveredSet = () =>
        new Set(collector.events.slice(before).map((e) => e['decision_id'] as string));
      const end = Date.now() + 30_000;
      while (settled.some((id) => !deliveredSet().has(id)) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(settled.filter((id) => !deliveredSet().has(id))).toEqual([]);
      const events = collector.events.slice(before);
      // A duplicate is the same event again (same id, same content), never a different one.
      const byId = new Map<string, string>();
      for (const e of events) {
        const id = e['decision_id'] as string;
        const text = JSON.stringify(e);
        expect(byId.get(id) ?? text).toBe(text);
        byId.set(id, text);
      }
    } finally {
      await kill(second, 'SIGTERM');
    }
  });
});

const workersSlack = 4;

describe('mandate audit tail', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('prints recent records as JSON or lines, and --follow shows new decisions as they happen', async () => {
    const child = await serve();
    try {
      const denied = await check(child, { action: 'contacts.update', tenant: 'acme_inc' });
      const env = { ...process.env, MANDATE_ADMIN_TOKEN: ADMIN_TOKEN };
      const once = spawnSync(
        process.execPath,
        [MAIN, 'audit', 'tail', '--admin-url', child.adminUrl, '--allow', 'false', '--json'],
        { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 },
      );
      expect(once.status, once.stderr).toBe(0);
      const records = once.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.map((r) => r['decision_id'])).toContain(denied['decision_id']);
      expect(records.every((r) => r['allow'] === false)).toBe(true);

      const bad = spawnSync(
        process.execPath,
        [MAIN, 'audit', 'tail', '--admin-url', child.adminUrl, '--since', 'yesterday'],
        { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 },
      );
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('since');
      const unauthorized = spawnSync(
        process.execPath,
        [MAIN, 'audit', 'tail', '--admin-url', child.adminUrl, '--admin-token', 'wrong'],
        { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
      );
      expect(unauthorized.status).toBe(1);
      expect(unauthorized.stderr).toContain('refused the admin token');

      const tail = spawn(
        process.execPath,
        [MAIN, 'audit', 'tail', '--tenant', 'acme_inc', '--follow', '--interval', '200ms'],
        { cwd: ROOT, env: { ...env, MANDATE_ADMIN_URL: child.adminUrl } },
      );
      children.add(tail);
      let out = '';
      tail.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((r) => setTimeout(r, 600));
      const fresh = await check(child, {
        action: 'contacts.read',
        resource: { type: 'contact', id: 'follow-me' },
      });
      const end = Date.now() + 15_000;
      while (!out.includes(String(fresh['decision_id'])) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const line = out.split('\n').find((l) => l.includes(String(fresh['decision_id'])));
      expect(line).toMatch(
        /ALLOW tenant=acme_inc sub=user_8421 agent=agent-1 action=contacts\.read resource=contact\/follow-me scopes=contacts\.read .*id=/,
      );
      const exit = new Promise<number | null>((r) => tail.once('exit', (code) => r(code)));
      tail.kill('SIGINT');
      expect(await exit).toBe(0);
    } finally {
      await kill(child, 'SIGTERM');
    }
  });
});
