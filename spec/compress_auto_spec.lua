-- spec/compress_auto_spec.lua: the connect option compress ("auto" by
-- default, true, false): the decision for loopback and other hosts
-- without a network, and the real COMPRESS=DEFLATE against the private
-- Dovecot (which is on loopback, so "auto" leaves the link plain).

local server = require "support.server"
local util = require "support.util"
local compress = require "imapsift.compress"

local USER = server.as(20) -- victor

describe("compress = \"auto\" decision", function()
  it("knows loopback names and addresses", function()
    for _, h in ipairs{ "localhost", "LocalHost.", "mail.localhost",
        "127.0.0.1", "127.200.3.4", "::1", "[::1]", "0:0:0:0:0:0:0:1" } do
      assert.is_true(compress.is_loopback(h), h)
    end
    for _, h in ipairs{ "imap.example.org", "localhost.example.org",
        "128.0.0.1", "10.0.0.1", "::2", "1::1", "2001:db8::1",
        "127.0.0.1.example.org" } do
      assert.is_false(compress.is_loopback(h), h)
    end
  end)

  it("compresses by default only over TCP/TLS to a remote host", function()
    assert.is_true(compress.wanted{ host = "imap.example.org" })
    assert.is_true(compress.wanted{ host = "192.0.2.7", compress = "auto" })
    assert.is_true(compress.wanted{ host = "2001:db8::1" })
    assert.is_false(compress.wanted{ host = "127.0.0.1" })
    assert.is_false(compress.wanted{ host = "::1" })
    assert.is_false(compress.wanted{})
    assert.is_false(compress.wanted{ command = "ssh host imapd",
      host = "imap.example.org" })
    assert.is_false(compress.wanted{ host = "imap.example.org",
      compress = false })
    assert.is_true(compress.wanted{ host = "localhost", compress = true })
  end)
end)

describe("compress option against Dovecot", function()
  local imap

  after_each(function()
    if imap then imap:shutdown() end
    imap = nil
  end)

  local function commands(lines)
    local n = 0
    for _, l in ipairs(lines) do
      if l:find("^C: %S+ COMPRESS DEFLATE$") then n = n + 1 end
    end
    return n
  end

  it("leaves a loopback link plain with \"auto\" (the default)", function()
    assert.equal("victor", USER)
    local lines, trace = util.recorder()
    imap = server.connect{ trace = trace }
    assert.is_true(imap.capabilities["COMPRESS=DEFLATE"])
    assert.is_nil(imap.compressing)
    assert.equal(0, commands(lines))
    imap:logout()
  end)

  it("compresses right after login with compress = true", function()
    local lines, trace = util.recorder()
    imap = server.connect{ trace = trace, compress = true }
    assert.is_true(imap.compressing)
    assert.equal(1, commands(lines))
    imap:select("INBOX")
    assert.equal("SELECTED", imap:state())
    imap:logout()
  end)

  it("rejects a compress value other than true, false or \"auto\"",
    function()
      local e = util.catch(function()
        server.connect{ compress = "yes" }
      end)
      assert.equal("usage", e.kind)
      assert.matches("compress must be", e.text)
    end)
end)
