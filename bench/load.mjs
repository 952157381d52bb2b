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
 * wrk against `url` with one of the bench Lua scripts. Returns completed requests, measured
 * seconds, req/s, p50/p99 (µs), the latency histogram (µs → count, from the script's `done()`) so
 * several runs can be merged, error counts, and wrk's own printout (with its `--latency` table).
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
  const { stdout } = await run('wrk', args, (seconds + 30) * 1000);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const s = JSON.parse(line.slice('BENCH_JSON '.length));
  // Scripts that print a `latency` histogram can be merged across runs; others give percentiles.
  const histogram = new Map();
  for (const [us, count] of s.latency ?? []) histogram.set(us, (histogram.get(us) ?? 0) + count);
  const errorCounts = {
    non2xx: s.non2xx,
    connect: s.connect,
    read: s.read,
    write: s.write,
    timeout: s.timeout,
  };
  return summarise({
    requests: s.requests,
    seconds: s.duration_us / 1e6,
    histogram,
    p50Us: s.latency ? percentileOf(histogram, 50) : s.p50_us,
    p99Us: s.latency ? percentileOf(histogram, 99) : s.p99_us,
    errorCounts,
    raw: stdout
      .split('\n')
      .filter((l) => !l.startsWith('BENCH_JSON '))
      .join('\n'),
  });
}

/** Adds the derived fields every caller reads: req/s, total errors and a readable error line. */
function summarise(result) {
  const errors = Object.values(result.errorCounts).reduce((a, b) => a + b, 0);
  const errorDetail = Object.entries(result.errorCounts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { ...result, rps: result.requests / result.seconds, errors, errorDetail };
}

/**
 * h2load (HTTP/2 prior knowledge) POSTing the gRPC frame in `bodyFile` to `url`. The latency
 * histogram comes from the per-request log (h2load itself prints only min/mean/max). `dataBytes`
 * is the response payload seen, which tells OK answers (a message each) from gRPC errors
 * (trailers only).
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
  const { stdout } = await run('h2load', args, (seconds + 30) * 1000);
  const num = (re) => {
    const m = re.exec(stdout);
    if (!m) throw new Error(`cannot read ${re} from h2load output:\n${stdout}`);
    return Number(m[1]);
  };
  const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(stdout);
  if (!finished) throw new Error(`h2load output not understood:\n${stdout}`);
  const done = num(/requests: \d+ total, \d+ started, (\d+) done/);
  const succeeded = num(/requests: .* (\d+) succeeded/);
  const status2xx = num(/status codes: (\d+) 2xx/);
  const histogram = new Map();
  if (logFile) {
    const text = await readFile(logFile, 'utf8');
    await rm(logFile, { force: true });
    for (const row of text.split('\n')) {
      const cols = row.split('\t');
      if (cols.length < 3 || cols[1] !== '200') continue;
      const us = Number(cols[2]);
      histogram.set(us, (histogram.get(us) ?? 0) + 1);
    }
  }
  const dataBytes = num(/\((\d+)\) data/);
  return summarise({
    requests: succeeded,
    seconds: finished[2] === 'ms' ? Number(finished[1]) / 1000 : Number(finished[1]),
    histogram,
    p50Us: percentileOf(histogram, 50),
    p99Us: percentileOf(histogram, 99),
    // status2xx may count a few answers that landed after the clock stopped; fewer is an error.
    errorCounts: { failed: done - succeeded, non2xx: Math.max(0, succeeded - status2xx) },
    dataBytes,
    dataBytesPerRequest: succeeded > 0 ? dataBytes / succeeded : 0,
    raw: stdout,
  });
}

/** Percentile (nearest rank) of a histogram Map of value → count. */
export function percentileOf(histogram, p) {
  const values = [...histogram.keys()].sort((a, b) => a - b);
  let total = 0;
  for (const v of values) total += histogram.get(v);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const v of values) {
    seen += histogram.get(v);
    if (seen >= rank) return v;
  }
  return values[values.length - 1];
}

/** Adds histogram `b` into `a`. */
export function mergeHistogram(a, b) {
  for (const [v, c] of b) a.set(v, (a.get(v) ?? 0) + c);
  return a;
}
