-- imapsift.headers: message header text for rules: RFC 2047 encoded
-- words decoded to UTF-8 (any charset iconv knows), header blocks parsed
-- (RFC 5322 section 2.2), address lists (RFC 5322 section 3.4, with the
-- obsolete forms of section 4.4) and dates (sections 3.3 and 4.3).
--
-- Results are always valid UTF-8. Bytes outside encoded words that are
-- not UTF-8 (raw 8-bit headers from old mailers) are read as
-- windows-1252, the charset such headers nearly always are in, which
-- also covers ISO-8859-1's printable range; its five unassigned bytes
-- become U+FFFD. An encoded word that cannot be decoded (bad base64 or
-- Q, a charset iconv does not know, bytes invalid in its charset) is
-- kept as it was sent.

local core = require "imapsift.core"

local M = {}

-- windows-1252 bytes 0x80..0x9f; nil marks the unassigned ones.
local CP1252 = {
  [0x80] = 0x20ac, [0x82] = 0x201a, [0x83] = 0x0192, [0x84] = 0x201e,
  [0x85] = 0x2026, [0x86] = 0x2020, [0x87] = 0x2021, [0x88] = 0x02c6,
  [0x89] = 0x2030, [0x8a] = 0x0160, [0x8b] = 0x2039, [0x8c] = 0x0152,
  [0x8e] = 0x017d, [0x91] = 0x2018, [0x92] = 0x2019, [0x93] = 0x201c,
  [0x94] = 0x201d, [0x95] = 0x2022, [0x96] = 0x2013, [0x97] = 0x2014,
  [0x98] = 0x02dc, [0x99] = 0x2122, [0x9a] = 0x0161, [0x9b] = 0x203a,
  [0x9c] = 0x0153, [0x9e] = 0x017e, [0x9f] = 0x0178,
}

local function cp1252_char(b)
  if b < 0x80 or b >= 0xa0 then return utf8.char(b) end
  return utf8.char(CP1252[b] or 0xfffd)
end

-- Length of the valid UTF-8 sequence starting at byte i of s, or nil.
local function utf8_seq(s, i)
  local b = s:byte(i)
  local len = b >= 0xf0 and 4 or b >= 0xe0 and 3 or b >= 0xc2 and 2 or nil
  if not len then return nil end
  local seq = s:sub(i, i + len - 1)
  -- utf8.len refuses overlongs and surrogates only in strict mode
  if #seq == len and utf8.len(seq) == 1 and utf8.codepoint(seq) <= 0x10ffff
  then
    return len
  end
  return nil
end

-- make_utf8(s) -> s with every byte that is not part of valid UTF-8
-- read as windows-1252 (see above); valid UTF-8 comes back unchanged.
function M.make_utf8(s)
  if utf8.len(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local b = s:byte(i)
    local len = b >= 0x80 and utf8_seq(s, i)
    if b < 0x80 then
      out[#out + 1] = string.char(b)
      i = i + 1
    elseif len then
      out[#out + 1] = s:sub(i, i + len - 1)
      i = i + len
    else
      out[#out + 1] = cp1252_char(b)
      i = i + 1
    end
  end
  return table.concat(out)
end

-- The byte of each "=XX" escape, hex digits in either case.
local Q_BYTE = {}
for b = 0, 255 do
  local hex = ("%02X"):format(b)
  for _, h in ipairs{ hex, hex:lower(), hex:sub(1, 1) .. hex:sub(2):lower(),
      hex:sub(1, 1):lower() .. hex:sub(2) } do
    Q_BYTE["=" .. h] = string.char(b)
  end
end

local function q_decode(text)
  if not text:find("=", 1, true) then return (text:gsub("_", " ")) end
  if text:gsub("=%x%x", ""):find("=", 1, true) then
    return nil -- a "=" that does not start two hex digits
  end
  text = text:gsub("_", " ")
  return (text:gsub("=%x%x", Q_BYTE))
end

-- Raw bytes of an encoded word's text, or nil when malformed.
local function word_bytes(encoding, text)
  if encoding == "B" or encoding == "b" then
    -- some mailers drop the padding; put it back
    local pad = (4 - #text % 4) % 4
    if pad == 3 then return nil end
    return core.base64_decode(text .. ("="):rep(pad))
  end
  return q_decode(text)
end

-- The encoded words of s, in order: { first, last, charset, bytes },
-- bytes nil for a word that cannot be decoded. RFC 2231 adds a
-- language after "*" in the charset, which is dropped.
local WORD = "=%?([^?%s]+)%?([bBqQ])%?([^?%s]*)%?="

local function find_words(s)
  local words, pos = {}, 1
  while true do
    local i, j, cs, enc, text = s:find(WORD, pos)
    if not i then return words end
    if cs:find("*", 1, true) then cs = cs:gsub("%*.*$", "") end
    cs = cs:lower()
    words[#words + 1] = { i, j, cs, word_bytes(enc, text) }
    pos = j + 1
  end
end

-- Bytes that need no conversion: valid UTF-8 labelled UTF-8, ASCII
-- labelled US-ASCII come back as they are. nil: ask iconv.
local function convert_common(bytes, charset)
  if charset == "utf-8" then
    if utf8.len(bytes) then return bytes end
  elseif charset == "us-ascii" then
    if not bytes:find("[\128-\255]") then return bytes end
  end
  return nil
end

-- Converts the run words[k..e] of adjacent words that share a charset
-- as one text, so that a character split across two words (mailers cut
-- B words at any byte) comes out whole. Returns the UTF-8 text or nil.
local function convert_run(words, k, e)
  local bytes, charset = words[k][4], words[k][3]
  if k < e then
    local parts = {}
    for x = k, e do
      if not words[x][4] then return nil end
      parts[#parts + 1] = words[x][4]
    end
    bytes = table.concat(parts)
  end
  if not bytes then return nil end
  local text = convert_common(bytes, charset) or core.iconv(bytes, charset)
  -- iconv's output should be UTF-8; never trust a converter blindly
  return text and utf8.len(text) and text or nil
end

-- Groups words[a..b] into runs of the same charset; appends the
-- decoded text (or the words as sent) to out.
local function decode_words(s, words, a, b, out)
  local k = a
  while k <= b do
    local e = k
    while e < b and words[e + 1][3] == words[k][3] do e = e + 1 end
    local text = convert_run(words, k, e)
    if text then
      out[#out + 1] = text
    else
      -- kept as sent, with the white space between them
      out[#out + 1] = M.make_utf8(s:sub(words[k][1], words[e][2]))
    end
    k = e + 1
  end
end

-- decode(s) -> s with its encoded words decoded, as valid UTF-8. White
-- space between two adjacent encoded words is dropped (RFC 2047 section
-- 6.2). A non-string is returned as it is.
function M.decode(s)
  if type(s) ~= "string" then return s end
  -- no encoded word can start without "=?": most values take this path
  if not s:find("=?", 1, true) then return M.make_utf8(s) end
  local words = find_words(s)
  local out, pos, k = {}, 1, 1
  while k <= #words do
    local e = k
    while e < #words and
      s:sub(words[e][2] + 1, words[e + 1][1] - 1):find("^[ \t\r\n]*$") do
      e = e + 1
    end
    out[#out + 1] = M.make_utf8(s:sub(pos, words[k][1] - 1))
    decode_words(s, words, k, e, out)
    pos = words[e][2] + 1
    k = e + 1
  end
  out[#out + 1] = M.make_utf8(s:sub(pos))
  return table.concat(out)
end

-- Lower-case field names seen before: a scan meets the same few names in
-- every message. Emptied when full, so hostile names cannot grow it.
local lower_names, lower_count = {}, 0

local function lower_name(name)
  local l = lower_names[name]
  if l then return l end
  if lower_count >= 256 then lower_names, lower_count = {}, 0 end
  l = name:lower()
  lower_names[name], lower_count = l, lower_count + 1
  return l
end

-- s without its trailing spaces, tabs and CRs, found from the end (a
-- pattern would try every position from the start).
local function trim_end(s)
  local e = #s
  local b = s:byte(e)
  if b ~= 32 and b ~= 9 and b ~= 13 then return s end
  repeat
    e = e - 1
    b = s:byte(e)
  until b ~= 32 and b ~= 9 and b ~= 13
  return s:sub(1, e)
end

-- A block of one unfolded field ending in an empty line, CRLF only.
local ONE_FIELD = "^([!-9;-~]+)[ \t]*:[ \t]*([^\r\n]*)\r\n\r\n"

-- parse(block) -> { [lowercase name] = { raw value, ... } }, values in
-- the order they appear, unfolded (the line break before a continuation
-- line removed, its white space kept) and trimmed. Parsing stops at the
-- first empty line; a line that is not "name: value" is skipped.
function M.parse(block)
  if type(block) ~= "string" then
    error("headers.parse: bad argument #1 (string expected)", 2)
  end
  -- one field, as HEADER.FIELDS of one name sends it: no rewrite at all
  local name, value = block:match(ONE_FIELD)
  if name then return { [lower_name(name)] = { trim_end(value) } } end
  -- each rewrite copies the block, so only the ones it needs
  if block:find("\r", 1, true) then block = block:gsub("\r\n", "\n") end
  local body = block:find("\n\n", 1, true)
  if body then block = block:sub(1, body) end
  if block:byte(1) == 10 then block = "" end
  if block:find("\n ", 1, true) or block:find("\n\t", 1, true) then
    block = block:gsub("\n([ \t])", "%1")
  end
  local out = {}
  for line in block:gmatch("[^\n]+") do
    name, value = line:match("^([!-9;-~]+)[ \t]*:[ \t]*(.*)")
    if name then
      name = lower_name(name)
      value = trim_end(value)
      local list = out[name]
      if list then list[#list + 1] = value else out[name] = { value } end
    end
  end
  return out
end

-- Address list tokens: { kind, text }, kind one of "atom", "quoted"
-- (text without the quotes, escapes resolved; raw = as written),
-- "literal" ([domain literal]) or the special character itself.
-- Comments are skipped, nested ones too. An unterminated quote, comment
-- or literal runs to the end of the text.
local SPECIALS = "()<>[]:;@\\,.\""

local function skip_comment(s, i)
  local depth = 0
  while true do
    local k = s:find("[\\()]", i)
    if not k then return #s + 1 end
    local b = s:byte(k)
    if b == 92 then -- "\\": the next character is quoted
      i = k + 2
    else
      depth = depth + (b == 40 and 1 or -1)
      if depth == 0 then return k + 1 end
      i = k + 1
    end
  end
end

local function read_quoted(s, i)
  local buf, j = {}, i + 1
  while true do
    local k = s:find('["\\]', j)
    if not k then
      buf[#buf + 1] = s:sub(j)
      return table.concat(buf), #s + 1
    end
    buf[#buf + 1] = s:sub(j, k - 1)
    if s:byte(k) == 34 then return table.concat(buf), k + 1 end
    buf[#buf + 1] = s:sub(k + 1, k + 1)
    j = k + 2
  end
end

-- One token at byte b = s:byte(i); returns the token (or nil for a
-- comment) and the index after it.
local function token(s, i, b)
  if b == 40 then return nil, skip_comment(s, i) end
  if b == 34 then
    local text, j = read_quoted(s, i)
    return { "quoted", text, raw = s:sub(i, j - 1) }, j
  end
  if b == 91 then
    local j = s:find("]", i, true) or #s
    return { "literal", s:sub(i, j) }, j + 1
  end
  local c = s:sub(i, i)
  if SPECIALS:find(c, 1, true) then return { c, c }, i + 1 end
  -- ends at the white space tokens() skips: with %s, a vertical tab
  -- would end an atom before it began, and the scan would never move
  local j = s:find("[ \t\r\n()<>%[%]:;@\\,.\"]", i) or #s + 1
  return { "atom", s:sub(i, j - 1) }, j
end

local function tokens(s)
  local list, i, n = {}, 1, #s
  while true do
    i = s:find("[^ \t\r\n]", i)
    if not i then return list end
    local t
    t, i = token(s, i, s:byte(i))
    list[#list + 1] = t
    if i > n then return list end
  end
end

-- The display name of phrase tokens: words joined by one space, "."
-- (obsolete phrases) kept close, then decoded; nil when empty.
local function phrase_name(phrase)
  local parts = {}
  for _, t in ipairs(phrase) do
    if t[1] == "." and #parts > 0 then
      parts[#parts] = parts[#parts] .. "."
    elseif t[1] == "atom" or t[1] == "quoted" then
      parts[#parts + 1] = t[2]
    end
  end
  local name = M.decode(table.concat(parts, " "))
  return name ~= "" and name or nil
end

-- An addr-spec from its tokens, quoted local parts kept quoted.
local function spec_text(toks)
  local parts = {}
  for _, t in ipairs(toks) do
    parts[#parts + 1] = t.raw or t[2]
  end
  return M.make_utf8(table.concat(parts))
end

-- Reads "<...>" from token k; returns the addr-spec text and the index
-- after ">". An obsolete route ("<@a,@b:x@y>") is dropped.
local function angle_addr(list, k)
  local inner = {}
  k = k + 1
  while k <= #list and list[k][1] ~= ">" do
    if list[k][1] == ":" then inner = {} else inner[#inner + 1] = list[k] end
    k = k + 1
  end
  return spec_text(inner), k + 1
end

-- token_addresses(s) -> what addresses(s) returns, read token by token:
-- the general reader, for every shape; addresses() takes it for all
-- but the common ones (and the specs check that both agree).
function M.token_addresses(s)
  local out = {}
  if type(s) ~= "string" then return out end
  local list = tokens(s)
  local phrase, addr, k = {}, nil, 1
  local function flush()
    if not addr and #phrase > 0 then addr = spec_text(phrase); phrase = {} end
    if addr and addr ~= "" then
      out[#out + 1] = { name = phrase_name(phrase), address = addr }
    end
    phrase, addr = {}, nil
  end
  while k <= #list do
    local kind = list[k][1]
    if kind == "<" then
      addr, k = angle_addr(list, k)
    else
      if kind == "," or kind == ";" then
        flush()
      elseif kind == ":" then
        phrase = {} -- a group's name
      elseif not addr then
        phrase[#phrase + 1] = list[k]
      end
      k = k + 1
    end
  end
  flush()
  return out
end

-- The common shapes of one list entry, each read by one pattern: a
-- quoted display name (no escapes) or a phrase of atoms before an angle
-- address, or a bare address; the address is dot-atom text around one
-- "@". Anything else (comments, groups, escapes, routes, domain
-- literals, 8-bit bytes, empty entries) is left to token_addresses.
local ATEXT = "A-Za-z0-9!#$%%&'*+/=?^_`{|}~%-"
local ADDR = "([" .. ATEXT .. ".]+@[" .. ATEXT .. ".]+)"
local WS = "[ \t\r\n]*"
local QUOTED_ENTRY = "^" .. WS .. '"([^"\\]*)"' .. WS .. "<" .. ADDR .. ">" ..
  WS .. "()"
local PHRASE_ENTRY = "^([" .. ATEXT .. " \t\r\n]*)<" .. ADDR .. ">" .. WS ..
  "()"
local BARE_ENTRY = "^" .. WS .. ADDR .. WS .. "()"

-- The undecoded display name, address and end of the entry at i, or nil
-- when it has none of the common shapes. A phrase's atoms are joined by
-- one space, as the token reader joins them.
local function common_entry(s, i)
  local name, addr, j = s:match(QUOTED_ENTRY, i)
  if name then return name, addr, j end
  name, addr, j = s:match(PHRASE_ENTRY, i)
  if name then
    return name:gsub("[ \t\r\n]+", " "):match("^ ?(.-) ?$"), addr, j
  end
  addr, j = s:match(BARE_ENTRY, i)
  if addr then return "", addr, j end
end

-- The list when every entry has a common shape, else nil.
local function common_list(s)
  local out, i, n = {}, 1, #s
  while i <= n and not s:find("^[ \t\r\n]*$", i) do
    local name, addr, j = common_entry(s, i)
    if not name then return nil end
    if j <= n and s:byte(j) ~= 44 then return nil end -- not ","
    name = M.decode(name)
    out[#out + 1] = { name = name ~= "" and name or nil, address = addr }
    i = j + 1
  end
  return out
end

-- addresses(s) -> array of { name = display name or nil, address =
-- "local@domain" }. Groups are flattened (their names dropped), comments
-- dropped, an empty entry (",,", "undisclosed-recipients:;") skipped.
function M.addresses(s)
  if type(s) ~= "string" then return {} end
  return common_list(s) or M.token_addresses(s)
end

local MONTHS = {
  jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12,
}

-- Obsolete zone names (RFC 5322 section 4.3), in minutes east of UTC.
-- Military letters are read as -0000 as that section advises, their
-- sign having been used both ways.
local ZONES = {
  ut = 0, utc = 0, gmt = 0, z = 0,
  est = -300, edt = -240, cst = -360, cdt = -300,
  mst = -420, mdt = -360, pst = -480, pdt = -420,
}

local function zone_minutes(z)
  if not z or z == "" then return 0 end
  local sign, hh, mm = z:match("^([+-])(%d%d):?(%d%d)$")
  if sign then
    hh, mm = tonumber(hh), tonumber(mm)
    if mm > 59 then return nil end
    local m = hh * 60 + mm
    return sign == "-" and -m or m
  end
  z = z:lower()
  if ZONES[z] then return ZONES[z] end
  if z:find("^%a$") and z ~= "j" then return 0 end
  return nil
end

-- Days from 1970-01-01 to y-m-d (proleptic Gregorian), counting years
-- from March so that February's leap day ends the year.
local function days(y, m, d)
  if m <= 2 then y, m = y - 1, m + 12 end
  return 365 * y + y // 4 - y // 100 + y // 400 + (153 * (m - 3) + 2) // 5
    + d - 719469
end

local function mdays(y, m)
  if m == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

-- Two-digit years are 1950..2049, three-digit ones count from 1900
-- (RFC 5322 section 4.3).
local function full_year(y)
  local n = tonumber(y)
  if #y == 2 then return n < 50 and 2000 + n or 1900 + n end
  if #y == 3 then return 1900 + n end
  return n
end

-- The fields of an RFC 5322 date ("[Mon,] 6 Dec 2026 03:31[:41] zone")
-- or of the asctime form ("Mon Dec  6 03:31:41 2026"); nil otherwise.
local function date_fields(s)
  s = s:gsub("%b()", " "):gsub("^[%s,]*%a*[%s,]+(%d)", "%1")
  local d, mon, y, rest = s:match("^%s*(%d%d?)[%s%-]+(%a+)[%s%-]+(%d+)%s+(.*)$")
  if not d then
    local mon2, d2, time, y2 = s:match(
      "^%s*%a+%s+(%a+)%s+(%d%d?)%s+([%d:]+)%s+(%d%d%d%d)%s*$")
    if not mon2 then return nil end
    d, mon, y, rest = d2, mon2, y2, time
  end
  local hh, mi, ss, zone = rest:match("^(%d%d?):(%d%d):?(%d*)%s*(%S*)%s*$")
  if not hh then return nil end
  return tonumber(d), MONTHS[mon:sub(1, 3):lower()], full_year(y),
    tonumber(hh), tonumber(mi), tonumber(ss) or 0, zone
end

-- date(s) -> epoch seconds of an RFC 5322 date, obsolete forms
-- tolerated (no weekday, no seconds, 2- or 3-digit years, zone names,
-- a trailing comment, "-" between the date's parts, asctime), or nil.
-- A missing zone is read as UTC.
function M.date(s)
  if type(s) ~= "string" then return nil end
  local d, m, y, hh, mi, ss, zone = date_fields(s)
  local off = zone_minutes(zone)
  if not (d and m and off) or #(zone or "") > 6 then return nil end
  if d < 1 or d > mdays(y, m) or hh > 23 or mi > 59 or ss > 60 then
    return nil
  end
  return days(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss - off * 60
end

return M
