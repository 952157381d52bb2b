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

-- done(): the BENCH_JSON summary line bench/load.mjs reads (wrk runs from the repo root).
dofile("bench/wrk-summary.lua")
