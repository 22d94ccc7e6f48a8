-- POST /api/payments: 10.00 for a random customer of bc-0000001…bc-<WRK_IDS>, each
-- with a unique external_id and its own Idempotency-Key.
package.path = string.match(debug.getinfo(1, "S").source, "^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local customers = tonumber(os.getenv("WRK_IDS") or "1")

common.install(function(tid, n)
  local id = string.format("wp-%s-%d-%d", common.run, tid, n)
  local body = string.format(
    '{"external_id": "%s", "customer_external_id": "bc-%07d", "total_amount": "10.00"}',
    id, math.random(customers))
  local headers = common.headers({["Content-Type"] = "application/json", ["Idempotency-Key"] = id})
  return wrk.format("POST", "/api/payments", headers, body)
end)
