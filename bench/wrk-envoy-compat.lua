-- wrk script for Envoy HTTP ext_authz in compatibility mode: mandate's token in X-Mandate-Token, the
-- policy's own JWT in Authorization. args = mandate token, file of policy JWTs (one a line), start,
-- wrk threads.
-- With one JWT in the file every request repeats it; with many, thread t of T uses JWTs start+t,
-- start+t+T, ... so a JWT comes back only after every other one was used.
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local jwts, count, next_index, step, headers

function init(args)
  jwts = {}
  for line in io.lines(args[2]) do
    if #line > 0 then jwts[#jwts + 1] = line end
  end
  count = #jwts
  step = tonumber(args[4])
  next_index = (tonumber(args[3]) + thread_index) % count
  headers = {
    ["X-Mandate-Token"] = "Bearer " .. args[1],
    ["Accept"] = "application/json",
    ["Accept-Encoding"] = "gzip, deflate, br",
    ["Accept-Language"] = "en-US,en;q=0.9",
    ["User-Agent"] = "agent-sdk/1.4.2 (linux; node 22)",
    ["X-Request-Id"] = "6f1e2a7c-0b7d-4c1e-9d0a-3f5e8b2c1a90",
    ["X-Forwarded-For"] = "203.0.113.7",
    ["X-Forwarded-Proto"] = "https",
    ["X-Envoy-Expected-Rq-Timeout-Ms"] = "15000",
    ["X-B3-Traceid"] = "80f198ee56343ba864fe8b2a57d3eff7",
    ["X-B3-Spanid"] = "e457b5a2e4d86bd1",
    ["X-B3-Sampled"] = "1",
    ["Traceparent"] = "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
    ["Cookie"] = "session=abc123; theme=dark",
    ["Cache-Control"] = "no-cache",
  }
  wrk.method = "GET"
end

function request()
  headers["Authorization"] = "Bearer " .. jwts[next_index + 1]
  next_index = (next_index + step) % count
  return wrk.format(nil, nil, headers, nil)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
