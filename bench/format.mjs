// Number and table formatting shared by the benches' printed reports.

/** An integer with thousands separators. */
export function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US');
}

/** Microseconds as `123us`, or `1.23ms` from a millisecond on. */
export function fmtUs(us) {
  if (us === undefined || Number.isNaN(us)) return 'n/a';
  return us >= 1000 ? `${(us / 1000).toFixed(2)}ms` : `${Math.round(us)}us`;
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
