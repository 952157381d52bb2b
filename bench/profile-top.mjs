// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time and by inclusive (self + callees) time.
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ROOT } from './servers.mjs';

/**
 * Reads a profile and ranks functions over the samples in its last `windowMs` (the measured run,
 * leaving start-up out; all samples when omitted). Self time is where the CPU was; inclusive time
 * counts a function once per sample in which it is anywhere on the stack. Percentages are of the
 * window's non-idle time.
 */
export async function topSelfTime(profilePath, limit = 25, windowMs) {
  const profile = JSON.parse(await readFile(profilePath, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const keyOf = new Map();
  const key = (id) => {
    let k = keyOf.get(id);
    if (k === undefined) {
      const { callFrame } = byId.get(id);
      const file = callFrame.url ? relative(ROOT, callFrame.url.replace(/^file:\/\//, '')) : '';
      const where = file ? `${file}:${callFrame.lineNumber + 1}` : '';
      k = `${callFrame.functionName || '(anonymous)'}\u0000${where}`;
      keyOf.set(id, k);
    }
    return k;
  };

  // timeDeltas[i] is the gap before sample i; sample i stands for the time until sample i + 1.
  const times = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push((t += d));
  const from = windowMs === undefined ? -Infinity : t - windowMs * 1000;

  const self = new Map();
  const inclusive = new Map();
  let busyUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    if (times[i] < from) return;
    const us = (times[i + 1] ?? times[i]) - times[i];
    if (byId.get(id).callFrame.functionName === '(idle)') {
      idleUs += us;
      return;
    }
    busyUs += us;
    self.set(key(id), (self.get(key(id)) ?? 0) + us);
    const seen = new Set();
    for (let n = id; n !== undefined; n = parent.get(n)) {
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  });
  const rank = (map) =>
    [...map.entries()]
      .filter(([k]) => !/^\((root|program)\)/.test(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([k, us]) => {
        const [name, where] = k.split('\u0000');
        return { pct: (100 * us) / busyUs, name, where };
      });
  return {
    busyMs: busyUs / 1000,
    idlePct: (100 * idleUs) / (busyUs + idleUs),
    self: rank(self),
    inclusive: rank(inclusive),
  };
}

/** Printable lines for one summary. */
export function formatTop({ busyMs, idlePct, self, inclusive }) {
  const rows = (list) =>
    list.map(
      (r) => `    ${r.pct.toFixed(1).padStart(5)}%  ${r.name.slice(0, 44).padEnd(44)} ${r.where}`,
    );
  return [
    `  ${(busyMs / 1000).toFixed(1)} s busy on the main thread, ${idlePct.toFixed(1)}% idle`,
    '  by self time:',
    ...rows(self),
    '  by inclusive time:',
    ...rows(inclusive),
  ].join('\n');
}

// `node bench/profile-top.mjs file.cpuprofile [limit] [windowSeconds]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, limit, windowSeconds] = process.argv.slice(2);
  if (!path) {
    console.error('usage: node bench/profile-top.mjs <file.cpuprofile> [limit] [windowSeconds]');
    process.exit(2);
  }
  const windowMs = windowSeconds === undefined ? undefined : Number(windowSeconds) * 1000;
  console.log(formatTop(await topSelfTime(path, Number(limit ?? 25), windowMs)));
}
