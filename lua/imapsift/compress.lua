-- imapsift.compress: COMPRESS=DEFLATE (RFC 4978), compressing the link in
-- both directions for the rest of the session.

local errors = require "imapsift.error"
local Connection = require("imapsift.connection").Connection

local usage = errors.usage

-- compress() -> true. Sends COMPRESS DEFLATE and compresses the link in
-- both directions from the server's OK on. Needs the COMPRESS=DEFLATE
-- capability; compressing twice is a usage error. Afterwards STARTTLS is
-- no longer possible.
function Connection:compress()
  local what = "COMPRESS DEFLATE"
  if self.conn == nil then usage(what, "connection is closed") end
  if self.compressing then
    usage(what, "the connection is already compressed")
  end
  if next(self.capabilities) == nil then self:load_capabilities() end
  if not self.capabilities["COMPRESS=DEFLATE"] then
    usage(what, "server does not offer COMPRESS=DEFLATE")
  end
  self:run("COMPRESS", { "DEFLATE" }, what)
  local ok, err = self.conn:compress()
  if not ok then
    -- The server compresses from its OK on: there is no way back.
    local e = errors.from_core(err, what)
    self:shutdown()
    error(e, 0)
  end
  self.compressing = true
  return true
end

return {}
