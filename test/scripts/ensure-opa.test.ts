// scripts/ensure-opa.mjs downloading opa from a mirror: installs on a matching SHA-256, refuses otherwise, fails fast offline.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-opa.mjs', import.meta.url));
/** Stands in for the release binary: the script runs `opa version` before installing it. */
const FAKE_OPA = '#!/bin/sh\necho "Version: 1.22.3"\n';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Mirror {
  readonly url: string;
  readonly requests: string[];
  readonly server: Server;
}

/** Serves FAKE_OPA under any `/v1.22.3/<asset>` and `digest` under `<asset>.sha256`. */
async function startMirror(digest: string): Promise<Mirror> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const path = request.url ?? '';
    requests.push(path);
    // No keep-alive: the script's process would otherwise linger until the idle socket closes.
    response.setHeader('connection', 'close');
    if (!path.startsWith('/v1.22.3/')) return void response.writeHead(404).end();
    const asset = path.slice('/v1.22.3/'.length);
    if (asset.endsWith('.sha256')) {
      response.end(`${digest}  ${asset.slice(0, -'.sha256'.length)}\n`);
    } else {
      response.end(FAKE_OPA);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, requests, server };
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** Runs the script with no opa or go on PATH, installing into a fresh directory. */
async function ensureOpa(mirrorUrl: string) {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-ensure-opa-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const toolsDir = join(dir, 'tools');
  const env = {
    PATH: dir,
    MANDATE_OPA_DOWNLOAD_URL: mirrorUrl,
    MANDATE_TOOLS_DIR: toolsDir,
  };
  const started = Date.now();
  const result = await run(process.execPath, [SCRIPT], { env, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  const installed = await readdir(toolsDir).catch(() => [] as string[]);
  return { ...result, installed, toolsDir, ms: Date.now() - started };
}

describe.skipIf(process.platform === 'win32')('ensure-opa downloads', () => {
  it('installs the release binary from the mirror when its SHA-256 matches', async () => {
    const mirror = await startMirror(sha256(FAKE_OPA));
    cleanups.push(() => new Promise((resolve) => mirror.server.close(() => resolve())));
    const result = await ensureOpa(mirror.url);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/SHA-256 checked/);
    expect(result.installed).toEqual(['opa']);
    const { stdout } = await run(join(result.toolsDir, 'opa'), ['version']);
    expect(stdout).toBe('Version: 1.22.3\n');
    // The GitHub releases layout: v<version>/<asset>, and <asset>.sha256 beside it.
    expect(mirror.requests).toHaveLength(2);
    expect(mirror.requests[0]).toMatch(/^\/v1\.22\.3\/opa_[a-z]+_[a-z0-9]+(_static)?\.sha256$/);
    expect(mirror.requests[1]).toBe(mirror.requests[0]!.slice(0, -'.sha256'.length));
  });

  it('refuses a binary whose SHA-256 differs: exit 1, nothing installed, both digests named', async () => {
    const mirror = await startMirror(sha256('something else'));
    cleanups.push(() => new Promise((resolve) => mirror.server.close(() => resolve())));
    const result = await ensureOpa(mirror.url);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/checksum mismatch/);
    expect(result.stderr).toContain(sha256(FAKE_OPA));
    expect(result.stderr).toContain(sha256('something else'));
    expect(result.installed).toEqual([]);
  });

  it('refuses a .sha256 file without a digest', async () => {
    const mirror = await startMirror('not-a-digest');
    cleanups.push(() => new Promise((resolve) => mirror.server.close(() => resolve())));
    const result = await ensureOpa(mirror.url);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/holds no SHA-256 digest/);
    expect(result.installed).toEqual([]);
  });

  it('falls through quickly to go install when the mirror is unreachable', async () => {
    const mirror = await startMirror(sha256(FAKE_OPA));
    await new Promise((resolve) => mirror.server.close(resolve));
    const result = await ensureOpa(mirror.url);
    // No go on PATH either: the script explains what to install.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/download failed .*ECONNREFUSED.*trying `go install`/);
    expect(result.stderr).toMatch(/needs opa 1\.22\.3/);
    expect(result.installed).toEqual([]);
    expect(result.ms).toBeLessThan(10_000);
  });
});
