-- wrk script for POST /v1/check with one fixed token and a new resource id every request: args = token, action.
-- The token stays cached, but no two requests ask the same question, so the policy runs every time.
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local action, next_id

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  action = args[2]
  -- Apart per thread and per run, so a later slice never repeats an earlier question.
  next_id = thread_index * 1e14 + os.time() % 1000000 * 1e6
end

function request()
  next_id = next_id + 1
  local body = string.format(
    '{"action":"%s","resource":{"type":"ticket","id":"T-%d"},"tenant":"acme_inc"}', action, next_id)
  return wrk.format(nil, nil, nil, body)
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
