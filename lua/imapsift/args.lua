-- imapsift.args: checks the values a caller gives to a command against
-- their IMAP grammar (RFC 9051 section 9: flag, fetch-att, sequence-set,
-- status-att, capability) and wraps them in the encoder's table forms
-- (c/lua_command.h), so that text from a message can never turn into
-- extra protocol arguments. A value that does not fit raises kind
-- "usage" naming the argument, before anything is sent.

local core = require "imapsift.core"
local errors = require "imapsift.error"

local M = {}

local function usage(what, fmt, ...)
  errors.raise{ kind = "usage", command = what, text = fmt:format(...) }
end

-- v for a message: quoted as given (tostring of the error escapes what
-- a terminal must not see).
local function shown(v)
  if type(v) == "string" then return '"' .. v .. '"' end
  return tostring(v)
end

-- check(kind, v, label, what, noun): v must be one core.valid kind.
local function check(kind, v, label, what, noun)
  local ok, why = core.valid(kind, v)
  if not ok then
    usage(what, "%s %s is not a valid %s: %s", label, shown(v), noun, why)
  end
  return v
end

-- flags(list, label, what) -> a checked copy of list (an array of flag
-- strings, or one flag as a string): "\Seen", "$Label1", "Junk".
function M.flags(list, label, what)
  if type(list) == "string" then list = { list } end
  if type(list) ~= "table" then
    usage(what, "%s must be a flag or an array of flags, got %s", label,
      type(list))
  end
  local out = {}
  for i, f in ipairs(list) do
    out[i] = check("flag", f, ("%s[%d]"):format(label, i), what, "flag")
  end
  return out
end

-- flag_list(checked) -> the encoder's parenthesized list of { flag = }
function M.flag_list(checked)
  local out = {}
  for i, f in ipairs(checked) do out[i] = { flag = f } end
  return out
end

-- keyword(v, label, what) -> v, a flag-keyword (an atom: "$Junk").
function M.keyword(v, label, what)
  return check("atom", v, label, what, "keyword")
end

-- seqset(s) -> { seqset = s }: the encoder checks the grammar.
function M.seqset(s)
  return { seqset = s }
end

-- RFC 9051 6.4.5: the macros stand for these items.
local MACROS = {
  FAST = { "FLAGS", "INTERNALDATE", "RFC822.SIZE" },
  ALL = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
  FULL = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY" },
}

-- fetch_items(items, what) -> array of { fetch = item }; items is an
-- array of fetch-att strings, one such string, or a macro (ALL, FAST,
-- FULL) given alone.
function M.fetch_items(items, what)
  if type(items) == "string" then
    items = MACROS[items:upper()] or { items }
  end
  if type(items) ~= "table" or #items == 0 then
    usage(what, "fetch items must be a non-empty array of strings")
  end
  local list = {}
  for i, it in ipairs(items) do
    if type(it) ~= "string" then
      usage(what, "fetch item %d is not a string", i)
    end
    list[i] = { fetch = check("fetch", it, ("fetch item %d"):format(i),
      what, "fetch item") }
  end
  return list
end

-- status_items(items, what) -> upper-cased status-att atoms (MESSAGES,
-- UIDNEXT, UIDVALIDITY, UNSEEN, DELETED, SIZE, RECENT, HIGHESTMODSEQ,
-- APPENDLIMIT, MAILBOXID and later extensions' names).
function M.status_items(items, what)
  if type(items) ~= "table" or #items == 0 then
    usage(what, "status items must be a non-empty array of names")
  end
  local out = {}
  for i, it in ipairs(items) do
    if type(it) ~= "string" or not it:match("^%a[%w%-]*$") then
      usage(what, "status item %d %s is not a status item name such as " ..
        "MESSAGES or UIDNEXT", i, shown(it))
    end
    out[i] = it:upper()
  end
  return out
end

-- capability(v, label, what) -> v, a capability name for ENABLE (an
-- atom: "CONDSTORE", "UTF8=ACCEPT").
function M.capability(v, label, what)
  return check("atom", v, label, what, "capability name")
end

return M
