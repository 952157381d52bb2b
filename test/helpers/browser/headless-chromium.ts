// A real browser for tests: finds Debian's chromium, opens a page headless, and stops it (its whole process group) when done.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The chromium on PATH, or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const name of CANDIDATES) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  }
  return undefined;
}

export interface OpenPage {
  /** Stops the browser and removes its profile. */
  close(): void;
}

/** Opens `url` in a fresh headless chromium (own profile, no sandbox: tests run as root in CI). */
export function openPage(chromium: string, url: string): OpenPage {
  const profile = mkdtempSync(join(tmpdir(), 'mandate-chromium-'));
  const child = spawn(
    chromium,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      `--user-data-dir=${profile}`,
      url,
    ],
    { stdio: 'ignore', detached: true },
  );
  child.on('error', () => undefined);
  return {
    close() {
      // The wrapper script, the browser and its helpers share the group this spawn started.
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The MCP SDK's client as one ES module a page can import (bundled from node_modules by vite). */
export async function bundleMcpSdk(): Promise<string> {
  const root = resolve(import.meta.dirname, '../../..');
  const result = await build({
    configFile: false,
    logLevel: 'silent',
    root,
    build: {
      lib: { entry: resolve(import.meta.dirname, 'mcp-sdk-entry.ts'), formats: ['es'] },
      write: false,
      minify: false,
      emptyOutDir: false,
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  for (const output of outputs) {
    if (!('output' in output)) continue;
    for (const chunk of output.output) {
      if (chunk.type === 'chunk' && chunk.isEntry) return chunk.code;
    }
  }
  throw new Error('vite produced no bundle of the MCP SDK');
}
