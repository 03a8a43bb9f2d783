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

local M = {}

-- is_loopback(host) -> true for "localhost" (any case, a trailing dot or
-- a *.localhost name, RFC 6761 6.3), 127.0.0.0/8 and ::1.
function M.is_loopback(host)
  if type(host) ~= "string" then return false end
  local h = host:lower():gsub("^%[(.*)%]$", "%1"):gsub("%.$", "")
  if h == "localhost" or h:match("%.localhost$") then return true end
  local a, b, c, d = h:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a then
    a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
    return a == 127 and b <= 255 and c <= 255 and d <= 255
  end
  if h:find(":", 1, true) then
    -- ::1 in any spelling: all groups zero but a last group of 1.
    local full = h:gsub("::", ":" .. ("0:"):rep(9 - select(2, h:gsub(":", ""))))
    full = full:gsub("^:", ""):gsub(":$", "")
    local groups = {}
    for g in full:gmatch("[^:]+") do groups[#groups + 1] = tonumber(g, 16) end
    if #groups ~= 8 then return false end
    for i = 1, 7 do if groups[i] ~= 0 then return false end end
    return groups[8] == 1
  end
  return false
end

-- wanted(opts) -> true when the connect options ask to compress after
-- login: compress = true always, false never, "auto" (the default) only
-- over TCP/TLS (not a command transport) to a host that is not loopback.
function M.wanted(opts)
  local c = opts.compress
  if c == nil then c = "auto" end
  if c ~= "auto" then return c == true end
  return opts.command == nil and not M.is_loopback(opts.host or "localhost")
end

-- after_login(imap, opts): the connect step after login. compress = true
-- compresses (a usage error when the server does not offer it); "auto"
-- only when wanted and offered.
function M.after_login(imap, opts)
  if imap.compressing or imap:state() ~= "AUTH" or not M.wanted(opts) then
    return
  end
  if opts.compress ~= true then
    if next(imap.capabilities) == nil then imap:load_capabilities() end
    if not imap.capabilities["COMPRESS=DEFLATE"] then return end
  end
  imap:compress()
end

return M
