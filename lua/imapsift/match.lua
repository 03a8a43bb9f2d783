-- imapsift.match: set:match(field, regex, flags), client-side PCRE2
-- matching of a decoded header, narrowed first by a server-side SEARCH
-- HEADER on a word the pattern cannot match without.

local errors = require "imapsift.error"
local message = require "imapsift.message"
local msgset = require "imapsift.msgset"

local M = {}

-- Skips from i (at "[") past the end of a character class.
local function skip_class(p, i)
  i = i + 1
  if p:sub(i, i) == "^" then i = i + 1 end
  if p:sub(i, i) == "]" then i = i + 1 end
  while i <= #p do
    local c = p:sub(i, i)
    if c == "\\" then i = i + 2
    elseif p:sub(i, i + 1) == "[:" then
      local e = p:find(":]", i + 2, true)
      if not e then return nil end
      i = e + 2
    elseif c == "]" then return i + 1
    else i = i + 1 end
  end
  return nil
end

-- Skips from i (at "\") past one escape: \b, \x4a, \x{41}, \p{L},
-- \k<n>, \cX.
local function skip_escape(p, i)
  local n = p:sub(i + 1, i + 1)
  local j = i + 2
  if n == "c" then return j + 1 end
  if n == "x" and not p:find("^{", j) then
    return j + #p:match("^%x?%x?", j) -- \x41: up to two hex digits
  end
  local open = p:sub(j, j)
  local close = ({ ["{"] = "}", ["<"] = ">", ["'"] = "'" })[open]
  if close and n:match("%a") then
    local e = p:find(close, j + 1, true)
    return e and e + 1
  end
  return j
end

-- Whether the pattern has syntax that could make any letter run in it
-- optional or not literal: alternation, (? constructs, (*VERB)s, \Q..\E,
-- a group that may repeat zero times, extended mode (comments).
local function unsafe(p, flags)
  return p:find("|", 1, true) or p:find("(?", 1, true) or
    p:find("(*", 1, true) or
    p:find("\\Q", 1, true) or p:find("%)[%?%*{]") or
    (flags or ""):find("x", 1, true)
end

-- literal_word(pattern [, flags]) -> the longest run of 3+ ASCII letters
-- every match must contain, or nil when none is certain. Conservative:
-- the server's case-insensitive substring SEARCH may then only drop
-- messages the regex cannot match.
function M.literal_word(p, flags)
  if unsafe(p, flags) then return nil end
  local best, run, i = nil, {}, 1
  local function finish(optional_last)
    if optional_last then run[#run] = nil end
    if #run >= 3 and (not best or #run > #best) then
      best = table.concat(run)
    end
    run = {}
  end
  while i and i <= #p do
    local c = p:sub(i, i)
    if c:match("%a") then
      run[#run + 1] = c; i = i + 1
    else
      finish(c == "?" or c == "*" or c == "{")
      if c == "\\" then i = skip_escape(p, i)
      elseif c == "[" then i = skip_class(p, i)
      else i = i + 1 end
    end
  end
  if i == nil then return nil end -- unbalanced syntax: do not guess
  finish(false)
  return best
end

-- UIDs of part whose header may match: a server SEARCH when a word is
-- certain, else all of them.
local function candidates(part, hname, word)
  if not word then return part.uids end
  local mb = part.mailbox
  return mb.account:read(function(c)
    mb:ensure(part.uidvalidity, true)
    return c:search{ "UID", part.uids, "HEADER", hname, word }
  end)
end

local function matching(part, hname, rx)
  local out, h = {}, require("imapsift.headers")
  local items = { "UID", "BODY.PEEK[HEADER.FIELDS (" .. hname:upper() .. ")]" }
  local uids = part.uids
  for start = 1, #uids, msgset.BATCH do
    local batch = table.move(uids, start,
      math.min(#uids, start + msgset.BATCH - 1), 1, {})
    for _, m in ipairs(message.read_batch(part, batch, items,
        { [hname:lower()] = true })) do
      for _, v in ipairs(m:raw_headers(hname) or {}) do
        if rx:match(h.decode(v)) then out[#out + 1] = m.uid; break end
      end
    end
  end
  return out
end

-- match(set, field, pattern [, flags]) -> the MessageSet of messages
-- whose header (subject, from, ... or any header name) matches pattern
-- (PCRE2, UTF mode; flags "i", "m", "s", "x").
function M.match(set, field, pattern, flags)
  if type(field) ~= "string" then
    errors.usage("match", "bad argument #1 (a field name expected)")
  end
  if type(pattern) ~= "string" then
    errors.usage("match", "bad argument #2 (a pattern expected)")
  end
  local hname = message.header_name(message.HEADER_FIELDS[field] or field)
  local rx = require("imapsift.core").regex(pattern, flags)
  local word = M.literal_word(pattern, flags)
  local parts = {}
  for _, p in ipairs(set:parts()) do
    local part = { mailbox = p.mailbox, uidvalidity = p.uidvalidity,
      uids = candidates(p, hname, word) }
    part.uids = matching(part, hname, rx)
    parts[#parts + 1] = part
  end
  return msgset.new(parts)
end

return M
