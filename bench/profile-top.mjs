// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time and by inclusive (self + callees) time.
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ROOT } from './servers.mjs';

/**
 * Reads a profile and ranks functions over the samples taken under load: 250 ms slices that are
 * mostly busy, after the first mostly idle slice (so start-up, before the server waited for its
 * first request, is left out). Self time is where the CPU was; inclusive time counts a function
 * once per sample in which it is anywhere on the stack. Percentages are of busy time in the slices.
 */
export async function topSelfTime(profilePath, limit = 25) {
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
  const isIdle = (id) => byId.get(id).callFrame.functionName === '(idle)';

  // timeDeltas[i] is the gap before sample i; sample i stands for the time until sample i + 1.
  const times = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push((t += d));
  const duration = (i) => (times[i + 1] ?? times[i]) - times[i];
  const SLICE_US = 250_000;
  const slices = new Map();
  profile.samples.forEach((id, i) => {
    const s = Math.floor(times[i] / SLICE_US);
    const slice = slices.get(s) ?? { idle: 0, all: 0 };
    slice.all += duration(i);
    if (isIdle(id)) slice.idle += duration(i);
    slices.set(s, slice);
  });
  const order = [...slices.keys()].sort((a, b) => a - b);
  const firstIdle = order.find((s) => slices.get(s).idle > slices.get(s).all / 2);
  const loaded = new Set(
    order.filter((s) => s > (firstIdle ?? -1) && slices.get(s).idle < slices.get(s).all / 2),
  );

  const self = new Map();
  const inclusive = new Map();
  let busyUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    if (!loaded.has(Math.floor(times[i] / SLICE_US))) return;
    const us = duration(i);
    if (isIdle(id)) {
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
    `  ${(busyMs / 1000).toFixed(1)} s of main-thread samples under load, ${idlePct.toFixed(1)}% of them idle`,
    '  by self time:',
    ...rows(self),
    '  by inclusive time:',
    ...rows(inclusive),
  ].join('\n');
}

// `node bench/profile-top.mjs file.cpuprofile [limit]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, limit] = process.argv.slice(2);
  if (!path) {
    console.error('usage: node bench/profile-top.mjs <file.cpuprofile> [limit]');
    process.exit(2);
  }
  console.log(formatTop(await topSelfTime(path, Number(limit ?? 25))));
}
