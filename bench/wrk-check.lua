-- wrk script for POST /v1/check with one fixed token: args = token, JSON body. Prints a JSON summary line.
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.body = args[2]
end

-- done(): the BENCH_JSON summary line bench/load.mjs reads (wrk runs from the repo root).
dofile("bench/wrk-summary.lua")
