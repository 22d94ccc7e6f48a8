-- Shared by the wrk scripts of `make bench-http` (bench/bench_http.py).
--
-- Environment: WRK_AUTH (the Authorization header), WRK_EXPECT (the status every
-- answer must have, default 200), WRK_DELAY_MS (think time between a
-- connection's requests: the half-saturation runs), WRK_RUN (a token unique to
-- this run, for ids). done() prints one JSON line that bench_http.py reads.

local M = {}
local threads = {}
local next_id = 0

M.auth = os.getenv("WRK_AUTH")
M.run = os.getenv("WRK_RUN") or tostring(os.time())
local expect = tonumber(os.getenv("WRK_EXPECT") or "200")
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

function M.install(build_request)
  function setup(thread)
    next_id = next_id + 1
    thread:set("tid", next_id)
    table.insert(threads, thread)
  end

  function init(args)
    bad, first_bad, counter = 0, "", 0
    math.randomseed(os.time() * 1000 + tid)
  end

  request = function()
    counter = counter + 1
    return build_request(tid, counter)
  end

  function response(status, headers, body)
    if status ~= expect then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
    end
  end

  if delay_ms > 0 then
    function delay() return delay_ms end
  end

  function done(summary, latency, requests)
    local wrong, sample = 0, ""
    for _, thread in ipairs(threads) do
      wrong = wrong + thread:get("bad")
      if sample == "" then sample = thread:get("first_bad") end
    end
    local e = summary.errors
    io.write(string.format(
      '\nWRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
      '"write": %d, "status": %d, "timeout": %d, "wrong": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"sample": "%s"}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      wrong, latency:percentile(50), latency:percentile(99),
      string.gsub(sample, '[%c"\\]', " ")))
  end
end

function M.headers(extra)
  local h = {}
  if M.auth then h["Authorization"] = M.auth end
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

return M
