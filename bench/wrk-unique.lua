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

-- done(): the BENCH_JSON summary line bench/load.mjs reads (wrk runs from the repo root).
dofile("bench/wrk-summary.lua")
