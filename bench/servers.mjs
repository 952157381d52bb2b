// Starts the processes under test (the mandate sidecar, the bare baselines) as children and stops them, always.
import { spawn } from 'node:child_process';
import { clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 12_000;

/** Every child still running, so an error or a Ctrl-C anywhere can stop them all. */
const running = new Set();

/** Kills every child this module (or `track`) started; safe to call more than once. */
export function killAll() {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

/** Registers a child so killAll() reaches it. */
export function track(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** The environment a child gets: ours without MANDATE_* (a user's MANDATE_CONFIG must not leak in). */
function cleanEnv(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MANDATE_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Spawns `node args` in the repo, stdout to /dev/null unless `readStdout`, and resolves once
 * `isReady(line)` returns addresses for a line of stdout (baselines) or stderr (mandate's log).
 */
function startChild({ name, args, env, readStdout }, isReady) {
  const child = track(
    spawn(process.execPath, args, {
      cwd: ROOT,
      env: cleanEnv(env),
      // mandate's stdout is its audit stream: discarded, which is the realistic stdout sink.
      stdio: ['ignore', readStdout ? 'pipe' : 'ignore', 'pipe'],
    }),
  );
  let tail = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${READY_TIMEOUT_MS} ms\n${tail}`));
    }, READY_TIMEOUT_MS);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (${signal ?? code})\n${tail}`));
    };
    child.once('exit', onExit);
    const watch = (stream) => {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        tail = `${tail}${chunk}`.slice(-4000);
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const addresses = isReady(line);
          if (addresses) {
            clearTimeout(timer);
            child.off('exit', onExit);
            resolve(handle(name, child, addresses));
          }
        }
        // Keep draining (and discarding) once ready so the child never blocks on a full pipe.
        if (buffered.length > 65_536) buffered = '';
      });
    };
    watch(child.stderr);
    if (readStdout) watch(child.stdout);
  });
}

function handle(name, child, addresses) {
  return {
    name,
    pid: child.pid,
    ...addresses,
    /** SIGTERM, then SIGKILL after a few seconds; resolves when the process is gone. */
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    },
  };
}

function parseJsonLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function hostPort(text) {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(text.slice(i + 1)) };
}

/**
 * `node dist/cli/main.js serve` in dev mode on free loopback ports, trusting the dev key in
 * `stateDir`. `auditSink`: `stdout` (to /dev/null) or `none`. `nodeArgs`: e.g. `--cpu-prof`.
 */
export function startMandate({ stateDir, auditSink = 'stdout', nodeArgs = [], name = 'mandate' }) {
  return startChild(
    {
      name,
      args: [...nodeArgs, 'dist/cli/main.js', 'serve'],
      env: {
        MANDATE_HTTP_LISTEN: '127.0.0.1:0',
        MANDATE_GRPC_LISTEN: '127.0.0.1:0',
        MANDATE_ADMIN_LISTEN: '127.0.0.1:0',
        MANDATE_STATE_DIR: stateDir,
        MANDATE_AUDIT_SINK: auditSink,
        MANDATE_POLICIES_DIR: `${ROOT}policies`,
        MANDATE_LOG_LEVEL: 'info',
      },
    },
    (line) => {
      const record = parseJsonLine(line);
      if (record?.msg !== 'mandate is serving') return undefined;
      return { http: hostPort(new URL(record.http).host), grpc: hostPort(record.grpc) };
    },
  );
}

/** A bare baseline script from bench/ (with `env` added); it prints `{"ready":true,"http"|"grpc":"host:port"}`. */
export function startBaseline(script, env = {}) {
  return startChild({ name: script, args: [`bench/${script}`], env, readStdout: true }, (line) => {
    const record = parseJsonLine(line);
    if (record?.ready !== true) return undefined;
    return {
      ...(record.http ? { http: hostPort(record.http) } : {}),
      ...(record.grpc ? { grpc: hostPort(record.grpc) } : {}),
    };
  });
}

/**
 * `node dist/cli/main.js proxy --config <configPath>` (the MCP proxy); resolves once it logs that
 * it is serving, with its address. `nodeArgs`: e.g. `--cpu-prof`; `main`: another build's entry point.
 */
export function startMcpProxy({
  configPath,
  nodeArgs = [],
  name = 'mandate proxy',
  main = 'dist/cli/main.js',
}) {
  return startChild(
    { name, args: [...nodeArgs, main, 'proxy', '--config', configPath], env: {} },
    (line) => {
      const record = parseJsonLine(line);
      // 'mandate proxy is serving MCP': matched as a prefix, as the proxy serves other upstreams too.
      if (typeof record?.msg !== 'string' || !record.msg.startsWith('mandate proxy is serving')) {
        return undefined;
      }
      return { http: hostPort(new URL(record.listen).host) };
    },
  );
}
