// Runs the load generators as child processes and turns their output into numbers: wrk for HTTP/1.1, h2load for gRPC.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { clearTimeout } from 'node:timers';
import { ROOT, track } from './servers.mjs';

/** Runs a command to completion within `timeoutMs`, capturing its output. */
function run(cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? code})\n${stderr}`));
    });
  });
}

/**
 * wrk against `url` with one of the bench Lua scripts. Returns requests, req/s and latency
 * percentiles (µs) from the script's `done()` summary, errors, and the raw output.
 */
export async function runWrk({ url, script, scriptArgs, threads, connections, seconds }) {
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-s',
    `bench/${script}`,
    url,
    '--',
    ...scriptArgs,
  ];
  const { stdout } = await run('wrk', args, (seconds + 20) * 1000);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const s = JSON.parse(line.slice('BENCH_JSON '.length));
  return {
    requests: s.requests,
    rps: s.requests / (s.duration_us / 1e6),
    p50Us: s.p50_us,
    p99Us: s.p99_us,
    errors: s.non2xx + s.connect + s.read + s.write + s.timeout,
    errorDetail: `non-2xx ${s.non2xx}, socket errors connect ${s.connect} read ${s.read} write ${s.write} timeout ${s.timeout}`,
    raw: stdout,
  };
}

/**
 * h2load (HTTP/2 prior knowledge) POSTing the gRPC frame in `bodyFile` to `url`. Percentiles come
 * from the per-request log (h2load itself prints only min/mean/max). `dataBytes` is the response
 * payload seen, which tells OK answers (a message each) from gRPC errors (trailers only).
 */
export async function runH2load({
  url,
  bodyFile,
  headers,
  threads,
  clients,
  streams,
  seconds,
  logFile,
}) {
  const args = [
    `-t${threads}`,
    `-c${clients}`,
    `-m${streams}`,
    `-D${seconds}`,
    '-d',
    bodyFile,
    ...headers.flatMap((h) => ['-H', h]),
    ...(logFile ? [`--log-file=${logFile}`] : []),
    url,
  ];
  const { stdout } = await run('h2load', args, (seconds + 20) * 1000);
  const num = (re) => {
    const m = re.exec(stdout);
    if (!m) throw new Error(`cannot read ${re} from h2load output:\n${stdout}`);
    return Number(m[1]);
  };
  const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(stdout);
  if (!finished) throw new Error(`h2load output not understood:\n${stdout}`);
  const requests = num(/requests: \d+ total, \d+ started, (\d+) done/);
  const succeeded = num(/requests: .* (\d+) succeeded/);
  const status2xx = num(/status codes: (\d+) 2xx/);
  const dataBytes = num(/\((\d+)\) data/);
  let p50Us;
  let p99Us;
  if (logFile) {
    const text = await readFile(logFile, 'utf8');
    await rm(logFile, { force: true });
    const elapsed = [];
    for (const row of text.split('\n')) {
      const cols = row.split('\t');
      if (cols.length >= 3 && cols[1] === '200') elapsed.push(Number(cols[2]));
    }
    elapsed.sort((a, b) => a - b);
    p50Us = percentile(elapsed, 50);
    p99Us = percentile(elapsed, 99);
  }
  return {
    requests: succeeded,
    rps: Number(finished[3]),
    p50Us,
    p99Us,
    // status2xx may count a few answers that landed after the clock stopped; fewer is an error.
    errors: requests - succeeded + Math.max(0, succeeded - status2xx),
    errorDetail: `${requests} done, ${succeeded} succeeded, ${status2xx} HTTP 2xx`,
    dataBytesPerRequest: succeeded > 0 ? dataBytes / succeeded : 0,
    raw: stdout,
  };
}

/** Nearest-rank percentile of a sorted list. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
