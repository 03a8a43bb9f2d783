-- spec/starttls_forget_spec.lua: STARTTLS discards everything learned
-- before it (RFC 9051 11.1). A relay in the middle of the plaintext link
-- (spec/support/relay.pl, run as the command transport) injects an
-- [ALERT] after Dovecot's greeting; it must never be shown or kept as if
-- the server had said it over TLS.
local imapsift = require "imapsift"
local server = require "support.server"

local USER = server.as(2) -- this file's own user

local ALERT = "* OK [ALERT] pay here"

local function relay_command()
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  return ("exec perl '%s/support/relay.pl' '%s' %d '%s'"):format(dir,
    server.host, server.imap_port, ALERT)
end

-- opts(extra) -> connect options through the relay; on_alert records.
local function opts(shown, extra)
  local o = { command = relay_command(), host = server.host,
    ca_file = server.ca, timeout = 20,
    on_alert = function(text) shown[#shown + 1] = text end }
  for k, v in pairs(extra) do o[k] = v end
  return o
end

local function has(list, text)
  for _, v in ipairs(list) do if v == text then return true end end
  return false
end

describe("STARTTLS through a relay that injects an ALERT", function()
  local imap
  after_each(function()
    if imap then imap:shutdown() end
    imap = nil
  end)

  it("tls = \"starttls\": the plaintext ALERT is neither shown nor kept",
      function()
    local shown = {}
    imap = imapsift.connect(opts(shown, { tls = "starttls", user = USER,
      password = server.password }))
    assert.equal("AUTH", imap:state())
    assert.is_true(imap.tls_active)
    imap:noop()
    assert.is_false(has(shown, "pay here"))
    assert.is_false(has(imap.alerts, "pay here"))
  end)

  it("starttls() forgets the alerts, capabilities and untagged data of " ..
      "the plaintext phase", function()
    local shown = {}
    imap = imapsift.connect(opts(shown, { tls = "none" }))
    imap:noop() -- reads the injected line: plaintext, as the user chose
    assert.is_true(has(imap.alerts, "pay here"))
    assert.is_true(imap.capabilities.STARTTLS)
    assert.is_true(imap:starttls())
    assert.same({}, imap.alerts)
    assert.is_nil(imap.capabilities.STARTTLS)
    assert.same({}, imap:response("OK"))
    imap:login(USER, server.password)
    assert.equal("AUTH", imap:state())
  end)
end)
