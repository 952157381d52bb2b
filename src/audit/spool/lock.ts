// One process per spool folder: a lock file naming its holder by pid, process start time and boot id, so it cannot outlive that process.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const LOCK = 'lock';

/** A held spool lock. */
export interface SpoolLock {
  /** Removes the lock file when it still names this process. */
  release(): Promise<void>;
}

/**
 * Who holds a lock. A pid alone is not an identity: in a container the restarted sidecar is
 * usually PID 1 again, and a pid may be reused by any process. The start time (clock ticks since
 * boot, /proc/<pid>/stat field 22) tells the same pid's incarnations apart; the boot id tells
 * a lock left before a reboot from one taken since.
 */
interface Holder {
  readonly pid: number;
  readonly start?: string;
  readonly boot?: string;
}

/**
 * Folders this process holds: a second open in the same process is refused, not taken over.
 * Module state on purpose: a lock belongs to the process, whichever spool instance took it.
 */
const heldHere = new Set<string>();

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // not Linux, or no such process
  }
}

/** The process's start time in clock ticks since boot, or undefined where /proc has no answer. */
function startTimeOf(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Field 2 (the command) is in parentheses and may hold spaces: count from after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[22 - 3];
}

function bootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): Holder | undefined {
  const trimmed = text.trim();
  // Older locks hold only a pid.
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const h = JSON.parse(trimmed) as { pid?: unknown; start?: unknown; boot?: unknown };
    if (typeof h.pid !== 'number' || !Number.isInteger(h.pid) || h.pid <= 0) return undefined;
    return {
      pid: h.pid,
      ...(typeof h.start === 'string' ? { start: h.start } : {}),
      ...(typeof h.boot === 'string' ? { boot: h.boot } : {}),
    };
  } catch {
    return undefined;
  }
}

/** True when the process the lock names still runs: the same pid, started at the same time, since the same boot. */
function holderRuns(holder: Holder): boolean {
  // This process does not hold the folder (checked before), so a lock naming its pid was left by
  // an earlier process with the same pid: a container's PID 1 restarted.
  if (holder.pid === process.pid) return false;
  const boot = bootId();
  if (holder.boot !== undefined && boot !== undefined && holder.boot !== boot) return false;
  if (!isAlive(holder.pid)) return false;
  if (holder.start !== undefined) {
    const start = startTimeOf(holder.pid);
    if (start !== undefined && start !== holder.start) return false;
  }
  return true;
}

/**
 * Takes the spool folder's lock, or rejects naming the process that holds it. A lock whose holder
 * is gone (killed, or the pid now belongs to another process) is taken over.
 */
export async function acquireSpoolLock(dir: string): Promise<SpoolLock> {
  const key = resolve(dir);
  const path = join(dir, LOCK);
  if (heldHere.has(key)) throw new Error(`spool ${dir} is in use by process ${process.pid}`);
  const boot = bootId();
  const start = startTimeOf(process.pid);
  const mine = JSON.stringify({
    pid: process.pid,
    ...(start !== undefined ? { start } : {}),
    ...(boot !== undefined ? { boot } : {}),
  });
  try {
    await writeFile(path, mine, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = parseHolder(await readFile(path, 'utf8').catch(() => ''));
    if (holder !== undefined && holderRuns(holder)) {
      throw new Error(`spool ${dir} is in use by process ${holder.pid}`);
    }
    // Replaced whole, so a reader never sees half a lock.
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, mine, { mode: 0o600 });
    await rename(tmp, path).catch(async (e: unknown) => {
      await rm(tmp, { force: true });
      throw e;
    });
  }
  heldHere.add(key);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(key);
      const current = await readFile(path, 'utf8').catch(() => undefined);
      if (current === mine) await unlink(path).catch(() => {});
    },
  };
}
