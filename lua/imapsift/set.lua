-- imapsift.set: message sets (RFC 3501 "sequence-set"): Lua arrays of
-- numbers are sorted and compressed into ranges ("1:5,7,9:12"), split
-- into pieces that keep a command line under a safe length, and set
-- strings from the server (COPYUID, ESEARCH) are expanded again.

local M = {}

local function check_number(v, i)
  if math.type(v) ~= "integer" or v < 1 or v > 0xffffffff then
    error(("message set element %d is not a valid number (%s)"):format(
      i, tostring(v)), 3)
  end
end

-- sorted(list): a sorted copy without duplicates.
function M.sorted(list)
  local copy, seen = {}, {}
  for i = 1, #list do
    local v = list[i]
    check_number(v, i)
    if not seen[v] then
      seen[v] = true
      copy[#copy + 1] = v
    end
  end
  table.sort(copy)
  return copy
end

local function range_text(a, b)
  if a == b then return tostring(a) end
  return a .. ":" .. b
end

-- ranges(sorted) -> array of "a" / "a:b" pieces in order.
local function ranges(sorted)
  local out, i, n = {}, 1, #sorted
  while i <= n do
    local j = i
    while j < n and sorted[j + 1] == sorted[j] + 1 do j = j + 1 end
    out[#out + 1] = range_text(sorted[i], sorted[j])
    i = j + 1
  end
  return out
end

-- compress(list) -> "1:5,7" (list: array of numbers, any order).
function M.compress(list)
  return table.concat(ranges(M.sorted(list)), ",")
end

local function valid_set_string(s)
  return type(s) == "string" and s ~= "" and s:match("^[0-9:,*$]+$") ~= nil
end

-- split(set, max_len) -> array of set strings, each at most max_len bytes
-- (a single range longer than that is kept whole). set: a number, a set
-- string (kept as one piece) or an array of numbers.
function M.split(set, max_len)
  if math.type(set) == "integer" then
    check_number(set, 1)
    return { tostring(set) }
  elseif type(set) == "string" then
    if not valid_set_string(set) then
      error(("invalid message set %q"):format(set), 2)
    end
    return { set }
  elseif type(set) ~= "table" then
    error("message set must be a number, a set string or an array", 2)
  end
  local pieces, out, cur, len = ranges(M.sorted(set)), {}, {}, 0
  for _, p in ipairs(pieces) do
    if len > 0 and len + 1 + #p > max_len then
      out[#out + 1] = table.concat(cur, ",")
      cur, len = {}, 0
    end
    cur[#cur + 1] = p
    len = len + (len > 0 and 1 or 0) + #p
  end
  if #cur > 0 then out[#out + 1] = table.concat(cur, ",") end
  return out
end

-- A number of a set string: an nz-number of 32 bits (RFC 9051), so that
-- the cap's arithmetic below cannot overflow. Raises for the caller of
-- expand.
local function set_number(digits, s)
  local v = math.tointeger(tonumber(digits))
  if not v or v < 1 or v > 0xffffffff then
    error(("cannot expand message set %q: %s is not a message number")
      :format(s, digits), 3)
  end
  return v
end

-- count("1:3,7") -> 4: how many numbers the set string names, without
-- expanding it; nil when a part is malformed or no message number (0,
-- past 2^32 - 1, "*").
function M.count(s)
  local n = 0
  for part in tostring(s):gmatch("[^,]+") do
    local a, b = part:match("^(%d+):(%d+)$")
    if not a then a = part:match("^%d+$"); b = a end
    a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
    if not (a and b) or a < 1 or b < 1 or a > 0xffffffff or
        b > 0xffffffff then
      return nil
    end
    n = n + math.abs(b - a) + 1
  end
  return n
end

-- expand("1:3,7") -> { 1, 2, 3, 7 } in the order given (COPYUID pairs
-- source and destination by position, so order matters). "*" cannot be
-- expanded and raises. limit caps the count (default 10,000,000).
function M.expand(s, limit)
  limit = limit or 10000000
  local out = {}
  for part in tostring(s):gmatch("[^,]+") do
    local a, b = part:match("^(%d+):(%d+)$")
    if a then
      a, b = set_number(a, s), set_number(b, s)
      local step = a <= b and 1 or -1
      if math.abs(b - a) + 1 + #out > limit then
        error("message set too large to expand: " .. s, 2)
      end
      for v = a, b, step do out[#out + 1] = v end
    elseif part:match("^%d+$") then
      if #out + 1 > limit then
        error("message set too large to expand: " .. s, 2)
      end
      out[#out + 1] = set_number(part, s)
    else
      error(("cannot expand message set %q"):format(s), 2)
    end
  end
  return out
end

return M
