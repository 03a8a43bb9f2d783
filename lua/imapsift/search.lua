-- imapsift.search: turns a search written as a Lua array of keys and
-- values ({ "UNSEEN", "FROM", "boss@example.org" }) into command
-- arguments (RFC 3501 6.4.4, RFC 9051 6.4.4, RFC 7162 MODSEQ, RFC 5032
-- OLDER/YOUNGER), choosing for each value the right wire form: strings are
-- quoted or sent as literals, dates and numbers checked, nested arrays
-- become parenthesized groups, message sets go as { seqset = } and
-- keywords are checked against the flag-keyword grammar.

local core = require "imapsift.core"

local M = {}

-- What follows each key: "s" string, "d" date, "n" number, "a" atom
-- (flag keyword), "o" an RFC 8474 objectid, "k" a search key, "S" a
-- message set.
local ARGS = {
  ALL = "", ANSWERED = "", DELETED = "", DRAFT = "", FLAGGED = "",
  NEW = "", OLD = "", RECENT = "", SEEN = "", UNANSWERED = "",
  UNDELETED = "", UNDRAFT = "", UNFLAGGED = "", UNSEEN = "",
  BCC = "s", BODY = "s", CC = "s", FROM = "s", SUBJECT = "s", TEXT = "s",
  TO = "s", HEADER = "ss",
  BEFORE = "d", ON = "d", SINCE = "d", SENTBEFORE = "d", SENTON = "d",
  SENTSINCE = "d",
  LARGER = "n", SMALLER = "n", OLDER = "n", YOUNGER = "n", MODSEQ = "n",
  KEYWORD = "a", UNKEYWORD = "a",
  NOT = "k", OR = "kk",
  UID = "S",
  EMAILID = "o", THREADID = "o", ["X-GM-RAW"] = "s", ["X-GM-MSGID"] = "n",
  ["X-GM-THRID"] = "n", ["X-GM-LABELS"] = "s",
}

local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
  "Sep", "Oct", "Nov", "Dec" }

local function fail(msg, ...)
  error("search: " .. msg:format(...), 0)
end

-- A date: "1-Feb-2024" as given, or epoch seconds (UTC day).
local function date_arg(v, key)
  if math.type(v) == "integer" then
    local t = os.date("!*t", v)
    return ("%d-%s-%04d"):format(t.day, MONTHS[t.month], t.year)
  end
  if type(v) == "string" and v:match("^%d%d?%-%a%a%a%-%d%d%d%d$") then
    return v
  end
  fail("%s needs a date like 1-Feb-2024 or epoch seconds, got %s", key,
    tostring(v))
end

local function set_arg(v, key, set)
  local s = v
  if type(v) == "table" then s = set.compress(v)
  elseif math.type(v) == "integer" then s = tostring(v) end
  if type(s) == "string" and core.valid("seqset", s) then
    return { seqset = s }
  end
  fail("%s needs a message set, got %s", key, tostring(v))
end

-- A KEYWORD value: RFC 9051 flag-keyword, an atom ("$Junk", "NonJunk").
local function keyword_arg(v, key)
  local ok, why = core.valid("atom", v)
  if not ok then
    fail("%s needs a flag keyword, %s is not one: %s", key,
      type(v) == "string" and '"' .. v .. '"' or tostring(v), why)
  end
  return v
end

local encode_keys

-- One value of kind k for key. Returns the argument; sets state.utf8
-- when a string needs a charset.
local function value_arg(kind, v, key, state)
  if kind == "s" then
    if type(v) ~= "string" and math.type(v) ~= "integer" then
      fail("%s needs a string, got %s", key, type(v))
    end
    v = tostring(v)
    if v:find("[\128-\255]") then state.eightbit = true end
    return { qstr = v }
  elseif kind == "d" then
    return date_arg(v, key)
  elseif kind == "n" then
    if math.type(v) ~= "integer" or v < 0 then
      fail("%s needs a non-negative integer, got %s", key, tostring(v))
    end
    return v
  elseif kind == "a" then
    return keyword_arg(v, key)
  elseif kind == "o" then
    -- RFC 8474: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
    if type(v) ~= "string" or #v > 255 or not v:match("^[%w_%-]+$") then
      fail("%s needs an object id (letters, digits, _ and -), got %s", key,
        tostring(v))
    end
    return v
  elseif kind == "S" then
    return set_arg(v, key, state.set)
  end
end

-- Encodes keys from list starting at i; returns the next index. Appends
-- to out. One search key (with its values) per call.
local function encode_one(list, i, out, state)
  local item = list[i]
  if item == nil then fail("a search key is missing at position %d", i) end
  if type(item) == "table" then
    if item.str or item.qstr or item.literal or item.seqset then
      out[#out + 1] = item
    else
      local group = {}
      encode_keys(item, group, state)
      out[#out + 1] = group
    end
    return i + 1
  end
  if math.type(item) == "integer" then
    out[#out + 1] = set_arg(item, ("position %d"):format(i), state.set)
    return i + 1
  end
  if type(item) ~= "string" then
    fail("position %d: unexpected %s", i, type(item))
  end
  local key = item:upper()
  local spec = ARGS[key]
  if spec == nil then
    if core.valid("seqset", item) then
      out[#out + 1] = { seqset = item }
      return i + 1
    end
    fail("unknown search key %q at position %d", item, i)
  end
  out[#out + 1] = key
  i = i + 1
  for k in spec:gmatch(".") do
    if k == "k" then
      i = encode_one(list, i, out, state)
    else
      if list[i] == nil then fail("%s needs a value", key) end
      out[#out + 1] = value_arg(k, list[i], key, state)
      i = i + 1
    end
  end
  return i
end

function encode_keys(list, out, state)
  local i = 1
  while i <= #list do i = encode_one(list, i, out, state) end
  if #list == 0 then fail("empty search") end
end

-- encode(criteria, set_module) -> args, needs_charset
-- criteria: an array of keys and values, or a string that is one key
-- ("ALL").
function M.encode(criteria, set)
  if type(criteria) == "string" then criteria = { criteria } end
  if type(criteria) ~= "table" then
    fail("criteria must be an array of search keys")
  end
  local out, state = {}, { set = set }
  encode_keys(criteria, out, state)
  return out, state.eightbit == true
end


-- split_uid(criteria, max_len, set_module) -> array of criteria, or nil.
-- A top-level UID key ANDs with the other keys, so a search whose UID
-- array compresses to more than max_len bytes can run as several searches,
-- one per piece of the array, whose results together (disjoint) are the
-- result of the whole. Returns those criteria, or nil when none is needed.
function M.split_uid(criteria, max_len, set)
  if type(criteria) ~= "table" then return nil end
  local i, scratch, state = 1, {}, { set = set }
  while i <= #criteria do
    local key, value = criteria[i], criteria[i + 1]
    if type(key) == "string" and key:upper() == "UID" and
        type(value) == "table" then
      local pieces = set.split(value, max_len)
      if #pieces > 1 then
        local out = {}
        for n, piece in ipairs(pieces) do
          out[n] = table.move(criteria, 1, #criteria, 1, {})
          out[n][i + 1] = piece
        end
        return out
      end
    end
    i = encode_one(criteria, i, scratch, state)
  end
  return nil
end

return M
