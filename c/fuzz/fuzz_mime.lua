-- fuzz_mime.lua: the invariants fuzz_mime checks on imapsift.mime's
-- RFC 2047 decoding: any header text decodes without raising, to valid
-- UTF-8 no longer than 12 times the input (one byte of a charset such
-- as TSCII can be four code points of three bytes each), and valid
-- UTF-8 without an encoded word comes back unchanged.
local mime = require "imapsift.mime"

return function(input)
  local ok, out = pcall(mime.decode, input)
  if not ok then
    error("decode raised: " .. tostring(out))
  end
  if type(out) ~= "string" then
    error("decode returned a " .. type(out))
  end
  if #out > 12 * #input then
    error(("decode grew %d bytes into %d"):format(#input, #out))
  end
  if not utf8.len(out) then
    error("decoded into invalid UTF-8")
  end
  if utf8.len(input) and not input:find("=?", 1, true) and out ~= input then
    error("text without an encoded word changed")
  end
end
