-- wrk script for the Switchyard benchmark.
--
-- POSTs the JSON body in the file named by $BENCH_BODY (a ~1 KB chat completion request,
-- streamed or not, or an MCP tools/call) to the URL given on the wrk command line, over keep-alive connections.
-- done() prints one line "BENCH_JSON {...}" with throughput, latency percentiles (in
-- microseconds) and error counts, which benchmarks/run.sh collects.

local path = os.getenv("BENCH_BODY")
if path == nil or path == "" then
  error("BENCH_BODY must name the request body file")
end
local file = assert(io.open(path, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
-- $BENCH_HEADERS: further headers, "Name: value" pairs separated by "|" (the MCP arm's
-- Mcp-Session-Id and MCP-Protocol-Version).
local extra = os.getenv("BENCH_HEADERS")
if extra ~= nil and extra ~= "" then
  for pair in string.gmatch(extra, "[^|]+") do
    local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
    if name == nil then
      error("BENCH_HEADERS: not a 'Name: value' pair: " .. pair)
    end
    wrk.headers[name] = value
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_s":%.6f', seconds),
    string.format('"bytes":%d', summary.bytes),
    string.format('"rps":%.3f', summary.requests / seconds),
    string.format('"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}',
      latency.min, latency.mean, latency.stdev,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}',
      e.connect, e.read, e.write, e.timeout, e.status),
  }
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end

-- $BENCH_VARY names a placeholder in the body replaced by a random number on every request, so
-- that no two requests are byte-identical (the semantic-cache arm: exact misses, semantic hits).
local vary = os.getenv("BENCH_VARY")
if vary ~= nil and vary ~= "" then
  function request()
    return wrk.format(nil, nil, nil, (body:gsub(vary, tostring(math.random(1, 1000000000)))))
  end
end
