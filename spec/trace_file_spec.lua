-- Specs for log.trace_writer against the private Dovecot: a trace file
-- holds the commands of every way of logging in, never the password
-- nor an encoding of it (quoted, literal, SASL initial response or
-- SASL continuation).

local log = require "imapsift.log"
local server = require "spec.support.server"
local util = require "spec.support.util"
local core = require "imapsift.core"

server.as(12)

-- The forms a password could take on the wire.
local function leaks(pw)
  return { pw, core.base64_encode(pw),
    core.base64_encode("\0" .. server.user .. "\0" .. pw),
    core.base64_encode(server.user .. "\0" .. server.user .. "\0" .. pw) }
end

local function assert_clean(text, pw)
  for _, form in ipairs(leaks(pw)) do
    assert.is_nil(text:find(form, 1, true), "the trace holds " .. form)
  end
end

describe("trace files", function()
  local path
  before_each(function()
    path = os.tmpname()
    os.remove(path)
  end)
  after_each(function() os.remove(path) end)

  -- connect_traced(extra) -> the trace file's text after a connection
  -- with extra options logged in (or failed to) and out.
  local function connect_traced(extra)
    extra.trace = log.trace_writer(path)
    local ok, c = pcall(server.connect, extra)
    if ok then c:logout() end
    return util.read_file(path) or "", ok, c
  end

  it("hold LOGIN with its password as ***", function()
    local text = connect_traced{ auth = "LOGIN-COMMAND" }
    assert.match("Z C: %S+ LOGIN nina %*%*%*\n", text)
    assert.match("Z S: %S+ OK", text)
    assert.match("C: %S+ LOGOUT", text)
    assert_clean(text, server.password)
  end)

  it("hold AUTHENTICATE PLAIN with its initial response as ***", function()
    local text = connect_traced{ auth = "PLAIN" }
    assert.match("Z C: %S+ AUTHENTICATE PLAIN %*%*%*\n", text)
    assert_clean(text, server.password)
  end)

  it("hold SASL LOGIN's and SCRAM's exchanges as ***", function()
    for _, mech in ipairs{ "LOGIN", "SCRAM-SHA-256" } do
      local text = connect_traced{ auth = mech }
      assert.match("C: %S+ AUTHENTICATE " .. mech:gsub("%-", "%%-"), text)
      assert.match("S: %+ %*%*%*\n", text)
      assert.match("C: %*%*%*\n", text)
      assert_clean(text, server.password)
      os.remove(path)
    end
  end)

  it("hold a password carried in a literal as *** only", function()
    -- A byte that is not UTF-8 forces a literal; the server refuses it.
    local pw = "wrong-\255-" .. server.password
    local text, ok, err = connect_traced{ auth = "LOGIN-COMMAND",
      password = pw }
    assert.is_false(ok)
    assert.equal("no", err.kind)
    assert.match("Z C: %S+ LOGIN nina %*%*%*\n", text)
    assert_clean(text, pw)
    assert.is_nil(text:find("wrong-", 1, true))
  end)
end)
