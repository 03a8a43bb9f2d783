-- imapsift.mime: decoding of RFC 2047 encoded words in header text
-- ("=?utf-8?q?Caf=C3=A9?=" -> "Café"), for subjects and display names.
-- UTF-8, US-ASCII and ISO-8859-1 are turned into UTF-8; a word in any
-- other charset, or a malformed one, is left as it was.

local core = require "imapsift.core"

local M = {}

local function latin1_to_utf8(s)
  return (s:gsub("[\128-\255]", function(c)
    return utf8.char(c:byte())
  end))
end

local CONVERT = {
  ["utf-8"] = function(s) return utf8.len(s) and s or nil end,
  ["us-ascii"] = function(s) return not s:find("[\128-\255]") and s or nil end,
  ["iso-8859-1"] = latin1_to_utf8,
  ["latin1"] = latin1_to_utf8,
}

local function q_decode(text)
  text = text:gsub("_", " ")
  return (text:gsub("=(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- One encoded word's text in UTF-8, or nil to keep the word as sent.
local function decode_word(charset, encoding, text)
  local convert = CONVERT[charset:lower():gsub("%*.*$", "")]
  if not convert then return nil end
  local raw
  encoding = encoding:upper()
  if encoding == "B" then
    raw = core.base64_decode(text)
  elseif encoding == "Q" then
    raw = q_decode(text)
  end
  return raw and convert(raw)
end

-- decode(s) -> s with its encoded words decoded. White space between two
-- adjacent encoded words is dropped, as RFC 2047 section 6.2 says.
function M.decode(s)
  if type(s) ~= "string" or not s:find("=?", 1, true) then return s end
  s = s:gsub("(%?=)%s+(=%?)", "%1%2")
  return (s:gsub("=%?([^?%s]+)%?([bBqQ])%?([^?%s]*)%?=", function(cs, enc, text)
    return decode_word(cs, enc, text)
  end))
end

return M
