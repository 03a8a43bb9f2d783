-- imapsift.dates: dates as Lua values for searches (epoch seconds,
-- "YYYY-MM-DD", days_ago(n)); the IMAP date strings are search.lua's.

local errors = require "imapsift.error"

local M = {}

local DAY = 86400

-- Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian),
-- computed without os.time so the machine's time zone never matters.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local MDAYS = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function leap(y)
  return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
end

-- days_ago(n) -> epoch seconds n days (of 24 hours) before now.
function M.days_ago(n)
  local v = math.tointeger(n)
  if v == nil or v < 0 then
    errors.usage("days_ago", "needs a non-negative whole number of days, " ..
      "got %s", tostring(n))
  end
  return os.time() - v * DAY
end

local function from_string(s)
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if not y or m < 1 or m > 12 or d < 1 or d > MDAYS[m] or
      (m == 2 and d == 29 and not leap(y)) then
    return nil
  end
  return days_from_civil(y, m, d) * DAY
end

-- value(v [, what]) -> epoch seconds (an integer). v is epoch seconds
-- (a whole number) or "YYYY-MM-DD" (UTC midnight); anything else raises
-- kind "usage" naming what.
function M.value(v, what)
  local t
  if type(v) == "number" then
    t = math.tointeger(v)
  elseif type(v) == "string" then
    t = from_string(v)
  end
  if t == nil then
    errors.usage(what or "date", "needs epoch seconds or \"YYYY-MM-DD\", " ..
      "got %s", type(v) == "string" and ("%q"):format(v) or tostring(v))
  end
  return t
end

return M
