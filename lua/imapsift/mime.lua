-- imapsift.mime: decoding of RFC 2047 encoded words in header text
-- ("=?utf-8?q?Caf=C3=A9?=" -> "Café"), for subjects and display names.
-- The work is done by imapsift.headers.decode (any charset iconv knows;
-- a malformed word is left as it was; the result is valid UTF-8); this
-- name is kept for the code that already calls it.

local headers = require "imapsift.headers"

local M = {}

-- decode(s) -> s with its encoded words decoded (see headers.decode).
M.decode = headers.decode

return M
