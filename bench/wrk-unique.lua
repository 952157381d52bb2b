-- wrk script for POST /v1/check with a different token each request: args = token file, JSON body, start index.
-- Thread t of T uses tokens start+t, start+t+T, ... cycling through the file, so no two requests
-- in flight share a token and a token comes back only after every other one was used.
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local tokens, count, next_index, step, headers

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  count = #tokens
  step = tonumber(args[4])
  next_index = (tonumber(args[3]) + thread_index) % count
  headers = { ["Content-Type"] = "application/json" }
  wrk.method = "POST"
  wrk.body = args[2]
end

function request()
  headers["Authorization"] = "Bearer " .. tokens[next_index + 1]
  next_index = (next_index + step) % count
  return wrk.format(nil, nil, headers, wrk.body)
end

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
