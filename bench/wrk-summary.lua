-- The done() of the bench's wrk scripts: one BENCH_JSON line with totals, errors and the latency histogram.
-- One JSON line: totals, errors and the latency histogram as [µs, count] pairs, so runs can be merged.
function done(summary, latency, requests)
  local e = summary.errors
  local bins = {}
  for i = 1, #latency do
    local value, count = latency(i)
    bins[#bins + 1] = string.format("[%d,%d]", value, count)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"latency":[%s]}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    table.concat(bins, ",")))
end
