-- fuzz_set.lua: the invariants fuzz_set checks on imapsift.set: a set
-- string from a server either expands (within the cap given) to message
-- numbers, or is refused with an error naming the message set; what
-- expands compresses to a canonical string that expands back to the
-- same numbers, and splits into pieces that hold them all.
local set = require "imapsift.set"
local errors = require "imapsift.error"

-- Far below set.expand's default, so that one input stays fast.
local LIMIT = 1000

local function refused(err)
  if errors.is(err) then
    return err.kind == "usage" or err.kind == "limit" or
      err.kind == "protocol"
  end
  return type(err) == "string" and err:find("message set", 1, true) ~= nil
end

-- The distinct numbers of a list, sorted.
local function distinct(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if not seen[v] then seen[v], out[#out + 1] = true, v end
  end
  table.sort(out)
  return out
end

local function same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

local function check_split(numbers, want)
  local all = {}
  for _, piece in ipairs(set.split(numbers, 16)) do
    if #piece > 16 and piece:find(",", 1, true) then
      error("split left a piece of several ranges over the limit: " .. piece)
    end
    for _, v in ipairs(set.expand(piece)) do all[#all + 1] = v end
  end
  if not same(all, want) then error("split lost or added numbers") end
end

return function(input)
  local ok, list = pcall(set.expand, input, LIMIT)
  if not ok then
    if refused(list) then return end
    error("expand raised something unexpected: " .. tostring(list))
  end
  if #list > LIMIT then error("expand passed its cap: " .. #list) end
  for i, v in ipairs(list) do
    if math.type(v) ~= "integer" or v < 1 or v > 0xffffffff then
      error(("expand gave element %d = %s, not a message number"):format(
        i, tostring(v)))
    end
  end
  local want = distinct(list)
  local text = set.compress(list)
  local back = set.expand(text, LIMIT)
  if not same(back, want) then
    error("compress(expand(s)) does not expand to the same set: " .. text)
  end
  if set.compress(back) ~= text then error("compress is not canonical") end
  check_split(list, want)
end
