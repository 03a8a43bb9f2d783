-- imapsift.criteria: a search written as a Lua table of named criteria
-- ({ from = "x", seen = false, since = "2024-02-01" }) turned into the
-- array form search.lua sends (RFC 3501 / RFC 9051 section 6.4.4).

local errors = require "imapsift.error"
local dates = require "imapsift.dates"

local M = {}

local function usage(fmt, ...) errors.usage("search", fmt, ...) end

local STRINGS = { from = "FROM", to = "TO", cc = "CC", bcc = "BCC",
  subject = "SUBJECT", body = "BODY", text = "TEXT" }

-- Flag criteria: [name] = { key when true, key when false }.
local FLAGS = {
  seen = { "SEEN", "UNSEEN" }, unseen = { "UNSEEN", "SEEN" },
  answered = { "ANSWERED", "UNANSWERED" },
  unanswered = { "UNANSWERED", "ANSWERED" },
  flagged = { "FLAGGED", "UNFLAGGED" }, unflagged = { "UNFLAGGED", "FLAGGED" },
  deleted = { "DELETED", "UNDELETED" }, undeleted = { "UNDELETED", "DELETED" },
  draft = { "DRAFT", "UNDRAFT" }, undraft = { "UNDRAFT", "DRAFT" },
  recent = { "RECENT", { "NOT", "RECENT" } },
  new = { "NEW", { "NOT", "NEW" } }, old = { "OLD", { "NOT", "OLD" } },
}

local DATES = { before = "BEFORE", since = "SINCE", on = "ON",
  sent_before = "SENTBEFORE", sent_since = "SENTSINCE", sent_on = "SENTON" }

local encode

local function push(out, ...)
  for i = 1, select("#", ...) do out[#out + 1] = (select(i, ...)) end
end

-- A string criterion: one string, or an array of them (all must match).
local function strings(out, key, v, name)
  if type(v) == "table" then
    for _, s in ipairs(v) do strings(out, key, s, name) end
    return
  end
  if type(v) ~= "string" then
    usage("%s needs a string, got %s", name, type(v))
  end
  push(out, key, v)
end

local function flag(out, name, v)
  if type(v) ~= "boolean" then
    usage("%s needs true or false, got %s", name, tostring(v))
  end
  local k = FLAGS[name][v and 1 or 2]
  if type(k) == "table" then push(out, table.unpack(k)) else push(out, k) end
end

local function keywords(out, key, v, name)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" then
    usage("%s needs a keyword or an array of them", name)
  end
  for _, k in ipairs(v) do push(out, key, k) end
end

local function size(out, key, v, name)
  local n = type(v) == "number" and math.tointeger(v)
  if not n or n < 0 then
    usage("%s needs a non-negative whole number of bytes, got %s", name,
      tostring(v))
  end
  push(out, key, n)
end

-- header = { ["List-Id"] = "x" } gives HEADER "List-Id" "x" (a value may
-- be an array: every one must match).
local function header_keys(out, v)
  if type(v) ~= "table" then
    usage("header needs a table { [name] = value }")
  end
  local names = {}
  for k in pairs(v) do
    if type(k) ~= "string" then usage("header names must be strings") end
    names[#names + 1] = k
  end
  table.sort(names)
  for _, k in ipairs(names) do
    local vals = type(v[k]) == "table" and v[k] or { v[k] }
    for _, s in ipairs(vals) do
      if type(s) ~= "string" then usage("header %s needs a string", k) end
      push(out, "HEADER", k, s)
    end
  end
end

-- An array of criteria tables (not one criteria table)?
local function is_list(v)
  return type(v) == "table" and v[1] ~= nil and next(v, #v) == nil and
    type(v[1]) == "table"
end

-- any = { crit, crit, ... }: nested ORs of the sub-criteria.
local function any(out, v)
  if not is_list(v) then usage("any needs an array of criteria tables") end
  local function from(i)
    if i == #v then return encode(v[i], "any[" .. i .. "]") end
    return { "OR", encode(v[i], "any[" .. i .. "]"), from(i + 1) }
  end
  push(out, from(1))
end

local function none(out, v)
  if type(v) ~= "table" then
    usage("none needs a criteria table or an array of them")
  end
  local list = is_list(v) and v or { v }
  for i, c in ipairs(list) do
    push(out, "NOT", encode(c, "none[" .. i .. "]"))
  end
end

local function uid(out, v)
  if type(v) == "number" then v = math.tointeger(v) end
  if type(v) ~= "table" and type(v) ~= "string" and
      math.type(v) ~= "integer" then
    usage("uid needs UIDs (an array, a number or a set like \"3:9\")")
  end
  push(out, "UID", v)
end

local function raw(out, v)
  if type(v) ~= "table" or #v == 0 then
    usage("raw needs an array of search keys")
  end
  push(out, table.unpack(v))
end

local function one(out, name, v)
  if STRINGS[name] then return strings(out, STRINGS[name], v, name) end
  if FLAGS[name] then return flag(out, name, v) end
  if DATES[name] then return push(out, DATES[name], dates.value(v, name)) end
  if name == "keyword" then return keywords(out, "KEYWORD", v, name) end
  if name == "unkeyword" then return keywords(out, "UNKEYWORD", v, name) end
  if name == "larger" then return size(out, "LARGER", v, name) end
  if name == "smaller" then return size(out, "SMALLER", v, name) end
  if name == "header" then return header_keys(out, v) end
  if name == "any" then return any(out, v) end
  if name == "none" then return none(out, v) end
  if name == "uid" then return uid(out, v) end
  if name == "raw" then return raw(out, v) end
  if name == "all" then
    if v ~= true then usage("all needs true") end
    return push(out, "ALL")
  end
  usage("unknown criterion %s", tostring(name))
end

function encode(t, where)
  if type(t) ~= "table" then
    usage("%s must be a criteria table, got %s", where, type(t))
  end
  local names = {}
  for k in pairs(t) do
    if type(k) ~= "string" then usage("unknown criterion %s", tostring(k)) end
    names[#names + 1] = k
  end
  table.sort(names) -- the same table always gives the same command
  local out = {}
  for _, k in ipairs(names) do one(out, k, t[k]) end
  if #out == 0 then out[1] = "ALL" end
  return out
end

-- keys(t) -> an array of search keys for imap:search. An empty table
-- searches ALL; an unknown name or a wrongly typed value raises kind
-- "usage" naming it.
function M.keys(t)
  return encode(t, "criteria")
end

return M
