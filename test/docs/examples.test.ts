// The docs cannot drift: every example marked runnable in README.md and docs/ runs against a real dev-mode sidecar, and its output is compared with the one shown.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { type DocExample, expectedPattern, runnableExamples } from './markdown.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

const docFiles = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter(
  (file) => file.endsWith('.md'),
);
const withExamples = docFiles
  .map((file) => ({ file, examples: runnableExamples(readFileSync(join(ROOT, file), 'utf8')) }))
  .filter(({ examples }) => examples.length > 0);

let sidecar: ChildProcess | undefined;
afterEach(() => {
  sidecar?.kill('SIGTERM');
  sidecar = undefined;
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

interface DevSidecar {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly ports: Record<'8181' | '9191' | '8182', number>;
}

/** A dev-mode sidecar as `npm start` runs it, in a folder of its own with a copy of ./policies. */
async function startDevSidecar(): Promise<DevSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-docs-'));
  cpSync(join(ROOT, 'policies'), join(dir, 'policies'), { recursive: true });
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'mandate'), `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`);
  chmodSync(join(bin, 'mandate'), 0o755);
  const ports = { '8181': await freePort(), '9191': await freePort(), '8182': await freePort() };
  const env = {
    ...(process.env as Record<string, string>),
    // The pinned opa CLI (.tools/opa) for examples that call it, after the mandate shim.
    PATH: `${bin}:${join(ROOT, '.tools')}:${process.env['PATH']}`,
    MANDATE_STATE_DIR: join(dir, '.mandate'),
    MANDATE_HTTP_LISTEN: `127.0.0.1:${ports['8181']}`,
    MANDATE_GRPC_LISTEN: `127.0.0.1:${ports['9191']}`,
    MANDATE_ADMIN_LISTEN: `127.0.0.1:${ports['8182']}`,
    MANDATE_ADMIN_URL: `http://127.0.0.1:${ports['8182']}`,
  };
  const proc = spawn(process.execPath, [MAIN, 'serve'], { cwd: dir, env });
  sidecar = proc;
  let stderr = '';
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`dev sidecar did not start:\n${stderr}`)),
      90_000,
    );
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('Try a real check')) {
        clearTimeout(timer);
        ready();
      }
    });
    proc.on('exit', (code) => fail(new Error(`dev sidecar exited ${code}:\n${stderr}`)));
  });
  return { dir, env, ports };
}

/** The documented default ports, as the test sidecar's. */
function withPorts(script: string, ports: DevSidecar['ports']): string {
  return script.replace(
    /\b(localhost|127\.0\.0\.1):(8181|9191|8182)\b/g,
    (_m, host: string, port: '8181') => `${host}:${ports[port]}`,
  );
}

/** Runs a file's examples in one shell, in order, and splits the output per example. */
async function runExamples(
  examples: readonly DocExample[],
  sidecar: DevSidecar,
): Promise<string[]> {
  const marker = '@@mandate-docs-example@@';
  const script = [
    'set -euo pipefail',
    ...examples.map(
      (example) => `${withPorts(example.script, sidecar.ports)}\necho; echo '${marker}'`,
    ),
  ].join('\n');
  const { stdout } = await run('bash', ['-c', script], {
    cwd: sidecar.dir,
    env: sidecar.env,
    timeout: 120_000,
  });
  return stdout.split(`${marker}\n`).slice(0, examples.length);
}

describe.each(withExamples)('runnable examples in $file', ({ examples }) => {
  it(`run and print what the docs show`, async () => {
    const dev = await startDevSidecar();
    const outputs = await runExamples(examples, dev);
    examples.forEach((example, i) => {
      if (example.output === undefined) return;
      const actual = (outputs[i] ?? '').trim();
      expect(actual, `example at line ${example.line}`).toMatch(expectedPattern(example.output));
    });
  }, 240_000);
});

describe('the docs', () => {
  it('have runnable examples (the tutorial at least)', () => {
    expect(withExamples.map(({ file }) => file)).toContain('docs/getting-started.md');
  });
});
