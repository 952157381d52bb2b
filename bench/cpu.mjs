// CPU accounting from /proc: server, load generator and everything else on the machine during one measured run.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';

/** USER_HZ: the unit of /proc times. 100 on every mainstream Linux build. */
const TICK_MS = 10;

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** utime, stime, cutime, cstime of a process, in ticks (fields 14-17, counted after the comm). */
function processTicks(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const at = (n) => Number(fields[n - 3]);
  return { own: at(14) + at(15), children: at(16) + at(17) };
}

/** Busy and total ticks of the whole machine (idle and iowait count as not busy). */
function machineTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = values[3] + values[4];
  return { busy: total - idle, total };
}

/**
 * Starts an account of CPU time; `finish()` after the load generator has exited (so its time has
 * been added to this process's reaped-children counters) returns, in ms of CPU:
 * `server`, `loadgen`, `bench` (this process) and `other` (everything else: other users' load).
 * Returns undefined values where /proc is not available.
 */
export function startCpuAccount(serverPid) {
  if (!hasProc) return { finish: () => undefined };
  const start = {
    server: processTicks(serverPid).own,
    self: processTicks(process.pid),
    machine: machineTicks(),
    wall: Date.now(),
  };
  return {
    finish() {
      const server = (processTicks(serverPid).own - start.server) * TICK_MS;
      const self = processTicks(process.pid);
      const loadgen = (self.children - start.self.children) * TICK_MS;
      const bench = (self.own - start.self.own) * TICK_MS;
      const machine = machineTicks();
      const busy = (machine.busy - start.machine.busy) * TICK_MS;
      return {
        wallMs: Date.now() - start.wall,
        server,
        loadgen,
        bench,
        other: Math.max(0, busy - server - loadgen - bench),
      };
    },
  };
}

/** Busy share of the whole machine over `ms`, in cores (e.g. 0.4 = 40% of one core), before we start. */
export async function sampleBackgroundLoad(ms) {
  if (!hasProc) return undefined;
  const a = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = machineTicks();
  return ((b.busy - a.busy) * TICK_MS) / ms;
}

/** What the report prints about the machine. */
export function machineInfo() {
  let model = cpus()[0]?.model ?? 'unknown';
  if (hasProc) {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) model = match[1].trim();
  }
  return {
    nproc: availableParallelism(),
    model,
    node: process.version,
    loadavg: loadavg().map((n) => n.toFixed(2)),
  };
}
