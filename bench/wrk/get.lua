-- GET one path; WRK_PATH may hold one integer format (e.g. /api/loans/bl-%08d),
-- filled with a random number from 1 to WRK_IDS on every request.
package.path = string.match(debug.getinfo(1, "S").source, "^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local template = os.getenv("WRK_PATH")
local ids = tonumber(os.getenv("WRK_IDS") or "1")
local headers = common.headers()

common.install(function(tid, n)
  return wrk.format("GET", string.format(template, math.random(ids)), headers)
end)
