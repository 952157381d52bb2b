-- wrk script for Envoy HTTP ext_authz: the original request under the prefix, ~20 realistic headers.
-- args = token. Prints the same BENCH_JSON summary line as wrk-check.lua.
function init(args)
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
  wrk.headers["Accept-Language"] = "en-US,en;q=0.9"
  wrk.headers["User-Agent"] = "agent-sdk/1.4.2 (linux; node 22)"
  wrk.headers["X-Request-Id"] = "6f1e2a7c-0b7d-4c1e-9d0a-3f5e8b2c1a90"
  wrk.headers["X-Forwarded-For"] = "203.0.113.7"
  wrk.headers["X-Forwarded-Proto"] = "https"
  wrk.headers["X-Envoy-Expected-Rq-Timeout-Ms"] = "15000"
  wrk.headers["X-B3-Traceid"] = "80f198ee56343ba864fe8b2a57d3eff7"
  wrk.headers["X-B3-Spanid"] = "e457b5a2e4d86bd1"
  wrk.headers["X-B3-Sampled"] = "1"
  wrk.headers["Traceparent"] = "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01"
  wrk.headers["Cookie"] = "session=abc123; theme=dark"
  wrk.headers["Cache-Control"] = "no-cache"
  wrk.headers["X-Tenant"] = "acme_inc"
  wrk.headers["X-Mandate-Subject"] = "forged"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
