-- imapsift.starttls: STARTTLS on demand (RFC 2595, RFC 9051 11.1) for
-- connections opened with tls = "none"; connect's tls = "starttls" uses
-- the same upgrade (Connection:upgrade_starttls in connection.lua).

local errors = require "imapsift.error"
local Connection = require("imapsift.connection").Connection

local usage = errors.usage

local TLS_OPTIONS = { servername = true, ca_file = true, ca_path = true,
  verify = true }

-- The TLS options for the upgrade: the connect options, replaced by
-- those given in opts.
local function tls_options(self, opts, what)
  local o = { host = self.opts.host }
  for k in pairs(TLS_OPTIONS) do o[k] = self.opts[k] end
  for k, v in pairs(opts or {}) do
    if not TLS_OPTIONS[k] then usage(what, "unknown option %s", tostring(k)) end
    o[k] = v
  end
  return o
end

-- starttls([opts]) -> true. For connections opened with tls = "none":
-- upgrades to TLS with STARTTLS, the same way tls = "starttls" does at
-- connect (refusing PREAUTH, a missing STARTTLS capability, a NO and
-- response injection, and closing the connection then). opts may give
-- servername, ca_file, ca_path and verify; the defaults are the connect
-- options. Afterwards LOGIN is allowed without allow_plaintext, and
-- everything learned before TLS (capabilities, alerts) is forgotten.
function Connection:starttls(opts)
  local what = "STARTTLS"
  if opts ~= nil and type(opts) ~= "table" then
    usage(what, "options must be a table")
  end
  if self.conn == nil then usage(what, "connection is closed") end
  if self.compressing then
    usage(what, "STARTTLS is not possible after COMPRESS (RFC 4978)")
  end
  if self.tls_active then usage(what, "the connection already uses TLS") end
  if self:state() ~= "NONAUTH" then
    usage(what, "STARTTLS is only possible before logging in")
  end
  self:upgrade_starttls(tls_options(self, opts, what))
  return true
end

return {}
