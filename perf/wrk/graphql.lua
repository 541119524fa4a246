-- wrk script of the benchmarks: POST one GraphQL request body over keep-alive connections.
--
--   WRK_BODY_FILE=body.json WRK_HEADERS="Authorization: Bearer x" \
--       wrk -t1 -c16 -d10s --latency -s perf/wrk/graphql.lua http://127.0.0.1:8180/graphql
--
-- WRK_HEADERS holds extra headers, one "Name: value" per line. Every answer is checked cheaply:
-- a status other than 200, or a GraphQL "errors" key near either end of the body (where a
-- serializer puts it), counts as an error. done() prints one line "WRKJSON {...}" with the
-- counts and the latency percentiles (microseconds) that perf/_wrk.py reads.

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

wrk.method = "POST"
wrk.body = read(os.getenv("WRK_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  gql_errors = 0
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif string.find(string.sub(body, 1, 32), '"errors"', 1, true)
      or string.find(string.sub(body, -400), '"errors"', 1, true) then
    gql_errors = gql_errors + 1
  end
end

function done(summary, latency, requests)
  local non, gql = 0, 0
  for _, t in ipairs(threads) do
    non = non + t:get("non200")
    gql = gql + t:get("gql_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"non200":%d,"graphql_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, non, gql,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
