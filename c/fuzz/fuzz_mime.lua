-- fuzz_mime.lua: the invariants fuzz_mime checks on imapsift.mime's
-- RFC 2047 decoding: any header text decodes without raising, to a
-- string no longer than twice the input (a Latin-1 byte becomes two),
-- and valid UTF-8 stays valid UTF-8.
local mime = require "imapsift.mime"

return function(input)
  local ok, out = pcall(mime.decode, input)
  if not ok then
    error("decode raised: " .. tostring(out))
  end
  if type(out) ~= "string" then
    error("decode returned a " .. type(out))
  end
  if #out > 2 * #input then
    error(("decode grew %d bytes into %d"):format(#input, #out))
  end
  if utf8.len(input) and not utf8.len(out) then
    error("valid UTF-8 decoded into invalid UTF-8")
  end
  if not input:find("=?", 1, true) and out ~= input then
    error("text without an encoded word changed")
  end
end
