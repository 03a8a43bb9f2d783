-- imapsift.internaldate: IMAP date-time values (RFC 3501 / RFC 9051
-- "date-time": INTERNALDATE in FETCH, the date of APPEND) to and from
-- epoch seconds; imaplib's Internaldate2tuple and Time2Internaldate. The
-- calendar arithmetic is done here, so the machine's time zone never
-- changes a result (only tables of local time, which ask for it).
--
--   date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year
--                    SP time SP zone DQUOTE
--   date-day-fixed = (SP DIGIT) / 2DIGIT
--   zone           = ("+" / "-") 4DIGIT

local errors = require "imapsift.error"

local M = {}

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
  "Sep", "Oct", "Nov", "Dec" }
local MONTH_OF = {} -- lower-case name -> 1..12 (ABNF strings ignore case)
for i, name in ipairs(MONTHS) do MONTH_OF[name:lower()] = i end

local DAY = 86400
local MAX_OFFSET = 24 * 60 - 1 -- minutes; real zones stay within +-14h
local FIRST, LAST = -62167219200, 253402300799 -- 0000-01-01, 9999-12-31

local function is_leap(y)
  return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
end

local function days_in_month(y, m)
  if m == 2 then return is_leap(y) and 29 or 28 end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

-- Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
-- Years are counted from March so that the leap day ends a year; a
-- 400-year era always has 146097 days. Lua's // floors, which keeps the
-- arithmetic right before 1970 too.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400                        -- 0..399
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1 -- 0..365
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- The inverse: y, m, d of a day number counted from 1970-01-01.
local function civil_from_days(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153                  -- 0 = March
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local function seconds_of(f)
  return days_from_civil(f.year, f.month, f.day) * DAY +
    f.hour * 3600 + f.min * 60 + f.sec
end

-- Quotes input in messages, escaped and cut short: it may come from a
-- server.
local function shown(s)
  if #s > 60 then s = s:sub(1, 60) .. "..." end
  return '"' .. errors.escape(s) .. '"'
end

-- Finds the date-time text in the accepted forms: bare, in double
-- quotes, or after INTERNALDATE in a FETCH fragment. Returns it, or nil
-- and a message.
local function date_text(s)
  local at = s:upper():find("INTERNALDATE", 1, true)
  if at then
    local inner = s:match('^%s+"([^"]*)"', at + #"INTERNALDATE")
    if not inner then
      return nil, "no quoted date-time after INTERNALDATE in " .. shown(s)
    end
    return inner
  end
  local t = s:match("^%s*(.-)%s*$")
  if t:sub(1, 1) == '"' then
    local inner = t:match('^"([^"]*)"$')
    if not inner then return nil, "unbalanced quotes in " .. shown(s) end
    return inner
  end
  return t
end

local DATE_TIME = "^([ %d]?%d)%-(%a%a%a)%-(%d%d%d%d) " ..
  "(%d%d):(%d%d):(%d%d) ([+-])(%d%d)(%d%d)$"

-- Checks every field's range; returns the fields table or nil, message.
local function fields_of(text, s)
  local d, mon, y, h, mi, sec, sign, zh, zm = text:match(DATE_TIME)
  if not d then
    return nil, "not an IMAP date-time (DD-Mon-YYYY HH:MM:SS +HHMM): " ..
      shown(s)
  end
  local f = { year = tonumber(y), month = MONTH_OF[mon:lower()],
    day = tonumber(d), hour = tonumber(h), min = tonumber(mi),
    sec = tonumber(sec) }
  local bad
  if not f.month then bad = "month"
  elseif f.day < 1 or f.day > days_in_month(f.year, f.month) then
    bad = "day"
  elseif f.hour > 23 then bad = "hour"
  elseif f.min > 59 then bad = "minute"
  elseif f.sec > 60 then bad = "second" -- 60: a leap second
  elseif tonumber(zh) > 23 or tonumber(zm) > 59 then bad = "zone"
  end
  if bad then return nil, ("bad %s in date-time %s"):format(bad, shown(s)) end
  f.offset = (tonumber(zh) * 60 + tonumber(zm)) * (sign == "-" and -1 or 1)
  return f
end

-- parse(s) -> epoch seconds (UTC), the zone's offset in minutes east of
-- UTC; or nil and a message for input that is not a date-time (never
-- raises for bad data). s may be '17-Jul-1996 02:44:25 -0700', the same
-- in double quotes, with a space-padded day (' 7-Jul-1996 ...'), or a
-- FETCH fragment holding 'INTERNALDATE "..."'.
function M.parse(s)
  if type(s) ~= "string" then
    return nil, "date-time must be a string, not a " .. type(s)
  end
  local text, err = date_text(s)
  if not text then return nil, err end
  local f
  f, err = fields_of(text, s)
  if not f then return nil, err end
  return seconds_of(f) - f.offset * 60, f.offset
end

-- Raises like luaL_argerror, blaming the caller level frames up.
local function argerror(level, n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level + 1)
end

-- local_offset([t]) -> minutes east of UTC of this machine's time zone
-- at epoch t (default now), for showing a time as local time.
function M.local_offset(t)
  t = t or os.time()
  local here, utc = os.date("*t", t), os.date("!*t", t)
  return (seconds_of(here) - seconds_of(utc)) // 60
end

-- Epoch seconds from format's first argument, and the offset a table
-- implies (its own zone: it holds local time, as os.date("*t") does).
local function epoch_of(t)
  if type(t) == "table" then
    local ok, e = pcall(os.time, t)
    if not ok or e == nil then
      argerror(3, 1, "format", "not a date table: " .. tostring(e))
    end
    return e, M.local_offset(e)
  end
  if type(t) ~= "number" then
    argerror(3, 1, "format", "epoch seconds or a date table expected, got " ..
      type(t))
  end
  local e = math.tointeger(t) or (t == t and math.tointeger(t // 1))
  -- Far outside years 0000..9999 the offset arithmetic could overflow.
  if not e or e < FIRST - DAY or e > LAST + DAY then
    argerror(3, 1, "format", "time out of range")
  end
  return e, 0
end

-- format(t [, offset]) -> 'DD-Mon-YYYY HH:MM:SS +HHMM' (no quotes: the
-- command encoder adds them), t shown at offset minutes east of UTC.
-- t: epoch seconds (offset defaults to 0, "+0000"), or a table of local
-- time like os.date("*t") (offset defaults to the local zone's). The day
-- is zero-padded, like imaplib's Time2Internaldate: both "07" and " 7"
-- are date-day-fixed, and "07" survives any trimming of spaces.
-- Raises for a bad argument or a year outside 0000..9999.
function M.format(t, offset)
  local epoch, default = epoch_of(t)
  if offset == nil then offset = default end
  if math.type(offset) ~= "integer" or offset < -MAX_OFFSET or
      offset > MAX_OFFSET then
    argerror(2, 2, "format", "offset must be whole minutes between -1439 " ..
      "and 1439")
  end
  local shifted = epoch + offset * 60
  local y, m, d = civil_from_days(shifted // DAY)
  if y < 0 or y > 9999 then
    argerror(2, 1, "format", "year " .. y .. " has no 4-digit form")
  end
  local s = shifted % DAY
  local a = math.abs(offset)
  return ("%02d-%s-%04d %02d:%02d:%02d %s%02d%02d"):format(d, MONTHS[m], y,
    s // 3600, s % 3600 // 60, s % 60, offset < 0 and "-" or "+",
    a // 60, a % 60)
end

return M
