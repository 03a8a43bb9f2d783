-- imapsift.match: set:match(field, regex, flags), client-side PCRE2
-- matching of a decoded header, narrowed first by a server-side SEARCH
-- HEADER on the words the pattern cannot match without (one word, or an
-- OR of one word per alternative).

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

-- Skips from i (at "\") past one escape: \b, \x4a, \x{41}, \p{L}, \pL,
-- \o{101}, \N{U+41}, \cX. Only those letters take a braced argument: a
-- "{" or "<" after any other escape is literal, and skipping to its
-- closing brace could hide a "|" or ")" from the analysis.
local function skip_escape(p, i)
  local n = p:sub(i + 1, i + 1)
  local j = i + 2
  if n == "c" then return j + 1 end
  if ("xopPN"):find(n, 1, true) and p:sub(j, j) == "{" then
    local e = p:find("}", j + 1, true)
    return e and e + 1
  end
  if n == "x" then
    return j + #p:match("^%x?%x?", j) -- \x41: up to two hex digits
  end
  -- \pL, \PL: a one-letter property name, not a literal letter.
  if n == "p" or n == "P" then return j + 1 end
  return j
end

-- What the analysis below finds: a requirement is an array of words, at
-- least one of which every match contains; nil means nothing is certain.
-- Past this many alternatives the OR search is not worth sending.
M.MAX_WORDS = 8

-- Raised (and caught in literal_words) on syntax the analysis does not
-- understand well enough to be sure of: the answer is then "no word".
local GIVE_UP = setmetatable({}, { __tostring = function()
  return "match: pattern not analysed" end })

local function give_up() error(GIVE_UP, 0) end

-- The shorter requirement wins (fewer alternatives to search for), then
-- the one whose shortest word is longest (more selective).
local function shortest(req)
  local n = math.huge
  for _, w in ipairs(req) do n = math.min(n, #w) end
  return n
end

local function better(a, b)
  if not a then return b end
  if not b then return a end
  if #a ~= #b then return #a < #b and a or b end
  return shortest(b) > shortest(a) and b or a
end

-- Either a or b holds in every match: their alternatives together. A
-- word containing another (ignoring case) adds nothing: the server's
-- search for the shorter one already finds it.
local function union(a, b)
  if not a or not b then return nil end
  local all, out = table.move(a, 1, #a, 1, {}), {}
  table.move(b, 1, #b, #all + 1, all)
  for _, w in ipairs(all) do
    local lw, keep = w:lower(), true
    for k = #out, 1, -1 do
      local lo = out[k]:lower()
      if lw:find(lo, 1, true) then keep = false; break end
      if lo:find(lw, 1, true) then table.remove(out, k) end
    end
    if keep then out[#out + 1] = w end
  end
  return #out <= M.MAX_WORDS and out or nil
end

-- Reads a quantifier at st.i (?, *, +, {n}, {n,}, {n,m}, {,m}, each maybe
-- followed by a lazy "?" or possessive "+"). Returns its minimum count,
-- or nil when there is none (a "{" that is no quantifier is a literal).
local function quantifier(st)
  local p, i = st.p, st.i
  local c, min, nxt = p:sub(i, i), nil, nil
  if c == "?" or c == "*" then min, nxt = 0, i + 1
  elseif c == "+" then min, nxt = 1, i + 1
  elseif c == "{" then
    local lo, hi, e = p:match("^{%s*(%d*)%s*,?%s*(%d*)%s*}()", i)
    if lo and (lo ~= "" or hi ~= "") then
      min, nxt = tonumber(lo) or 0, e
    end
  end
  if not min then return nil end
  c = p:sub(nxt, nxt)
  st.i = (c == "?" or c == "+") and nxt + 1 or nxt
  return min
end

local parse_alt

-- One group at st.i (at "("): plain or (?:...) only. Returns what the
-- group requires, or raises GIVE_UP; a group that may match zero times
-- gives up too, so as not to reason about optional parts.
local function group(st)
  local p = st.p
  if p:sub(st.i, st.i + 2) == "(?:" then st.i = st.i + 3
  elseif p:find("^%([%?%*]", st.i) then give_up() -- (?i), (?=, (*VERB)
  else st.i = st.i + 1 end
  local req = parse_alt(st)
  if p:sub(st.i, st.i) ~= ")" then give_up() end
  st.i = st.i + 1
  local min = quantifier(st)
  if min == 0 then give_up() end
  return req
end

-- Escapes that give up: backreferences (\1, \g, \k) and \Q...\E quoting,
-- whose letters are literal in a way the scan below does not follow.
local function escape(st)
  if st.p:find("^\\[1-9gkQ]", st.i) then give_up() end
  st.i = skip_escape(st.p, st.i) or give_up()
  quantifier(st)
end

-- Whether the letter at st.i counts as itself for the server: under
-- caseless matching PCRE2's Unicode mode lets k match U+212A (Kelvin
-- sign) and s match U+017F (long s), which a server need not fold to k
-- and s, so those two break words. Other ASCII letters fold only to
-- their other ASCII case.
local function plain_letter(st, c)
  return c:match("^[A-Za-z]$") and
    not (st.caseless and c:match("^[KkSs]$"))
end

-- One branch: a sequence of items up to "|", ")" or the end. A run of
-- literal letters every match passes through is a required word (a
-- letter that may be absent ends the run before it; one that may repeat
-- ends it after itself); a group contributes what it requires. The best
-- single requirement of the sequence is kept.
local function parse_seq(st)
  local p, best, run = st.p, nil, {}
  local function finish()
    if #run >= 3 then best = better(best, { table.concat(run) }) end
    run = {}
  end
  while st.i <= #p do
    local c = p:sub(st.i, st.i)
    if c == "|" or c == ")" then break end
    if c == "(" then
      finish(); best = better(best, group(st))
    elseif c == "\\" then finish(); escape(st)
    elseif c == "[" then
      finish(); st.i = skip_class(p, st.i) or give_up(); quantifier(st)
    else
      st.i = st.i + 1
      local min = quantifier(st)
      if min == 0 or not plain_letter(st, c) then finish()
      else run[#run + 1] = c; if min then finish() end end
    end
  end
  finish()
  return best
end

-- Alternatives separated by "|": each must require a word, and the
-- union of their words is the requirement.
function parse_alt(st)
  local req = parse_seq(st)
  while st.p:sub(st.i, st.i) == "|" do
    st.i = st.i + 1
    req = union(req, parse_seq(st)) -- nil stays nil: one branch is free
  end
  return req
end

-- literal_words(pattern [, flags]) -> an array of runs of 3+ ASCII
-- letters such that every match contains at least one of them, or nil
-- when the pattern gives no such certainty. Conservative: syntax it does
-- not follow (lookarounds, backreferences, (?flags), \Q, (*VERB)s,
-- x-mode, groups that may be absent) gives nil.
--
-- Why the server's search cannot lose a match: let the regex match the
-- decoded header value V. The match passes through one alternative of
-- the requirement, and its word w is a run of literal letters outside
-- any part that may match zero times (a repeated part is taken once),
-- so V contains w's letters in order, adjacent. Without "i" they are w
-- itself; with "i" each is w's letter in either ASCII case (k and s,
-- which PCRE2 also matches to non-ASCII letters, never enter a word).
-- SEARCH HEADER f w matches when w is a substring of the field, ignoring
-- ASCII case (RFC 3501 and RFC 9051, 6.4.4), so the message is among
-- those the server returns; the OR of the alternatives keeps every
-- message any of them keeps. The server drops only messages the regex
-- cannot match. (This takes the server to compare RFC 2047 words decoded,
-- as V is; Dovecot does, and the spec checks it.)
function M.literal_words(p, flags)
  if (flags or ""):find("x", 1, true) then return nil end -- comments
  local st = { p = p, i = 1, caseless = (flags or ""):find("i", 1, true) }
  local ok, req = pcall(parse_alt, st)
  if not ok then
    if req == GIVE_UP then return nil end
    error(req, 0)
  end
  if st.i <= #p then return nil end -- an unmatched ")": do not guess
  return req
end

-- literal_word(pattern [, flags]) -> the one word every match must
-- contain, or nil (see literal_words).
function M.literal_word(p, flags)
  local words = M.literal_words(p, flags)
  return words and #words == 1 and words[1] or nil
end

-- search_keys(words, hname) -> search keys matching a message whose
-- header hname contains one of words: HEADER f w, or nested ORs.
function M.search_keys(words, hname)
  local keys = {}
  for n, w in ipairs(words) do
    if n < #words then keys[#keys + 1] = "OR" end
    table.move({ "HEADER", hname, w }, 1, 3, #keys + 1, keys)
  end
  return keys
end

-- The UIDs of both sorted unique arrays a and b.
local function common(a, b)
  local out, i, j = {}, 1, 1
  while i <= #a and j <= #b do
    if a[i] == b[j] then out[#out + 1] = a[i]; i, j = i + 1, j + 1
    elseif a[i] < b[j] then i = i + 1
    else j = j + 1 end
  end
  return out
end

-- UIDs of part whose header may match: a server SEARCH when some words
-- are certain (one of them in every match), else all of them. A part
-- holding most of its mailbox is searched whole and the answer cut down
-- to the part here: the same UIDs, without sending a long UID set that
-- would go as many commands, each a search of its own.
local function candidates(part, hname, words)
  if not words then return part.uids end
  local mb = part.mailbox
  return mb.account:read(function(c)
    local box = mb:ensure(part.uidvalidity, true)
    local whole = box.exists and #part.uids * 2 > box.exists
    local keys = whole and {} or { "UID", part.uids }
    local alt = M.search_keys(words, hname)
    table.move(alt, 1, #alt, #keys + 1, keys)
    local found = c:search(keys)
    return whole and common(found, part.uids) or found
  end)
end

local function matching(part, hname, rx)
  local out, h = {}, require("imapsift.headers")
  local items = { "UID", "BODY.PEEK[HEADER.FIELDS (" .. hname:upper() .. ")]" }
  local uids = part.uids
  for first, last in msgset.batches(#uids) do
    local batch = table.move(uids, first, last, 1, {})
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
  local words = M.literal_words(pattern, flags)
  local parts = {}
  for _, p in ipairs(set:parts()) do
    local part = { mailbox = p.mailbox, uidvalidity = p.uidvalidity,
      uids = candidates(p, hname, words) }
    part.uids = matching(part, hname, rx)
    parts[#parts + 1] = part
  end
  return msgset.new(parts)
end

return M
