-- POST /api/customers/: a new customer with a unique external_id on every request.
package.path = string.match(debug.getinfo(1, "S").source, "^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local headers = common.headers({["Content-Type"] = "application/json"})

common.install(function(tid, n)
  local body = string.format(
    '{"external_id": "wc-%s-%d-%d", "score": "5000.00", "name": "wrk customer"}',
    common.run, tid, n)
  return wrk.format("POST", "/api/customers/", headers, body)
end)
