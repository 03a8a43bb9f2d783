-- spec/structure_spec.lua: the modules stand on their own. connection.lua
-- connects and logs in (with STARTTLS) without the modules that add
-- methods; usage errors and BYE errors are built in one place; idle.lua
-- holds IDLE only, COMPRESS and STARTTLS live in modules named for them.
local errors = require "imapsift.error"
local server = require "support.server"
local fake = require "support.fake"
local util = require "support.util"

local USER = server.as(4) -- this file's own user

local session = fake.session()
after_each(function() session:cleanup() end)

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- run_fresh(chunk) -> exit status, output of chunk run by a new lua5.4
-- with this process's module paths: a Lua state no other spec touched.
local function run_fresh(chunk)
  local path = util.tmpname()
  util.write_file(path, ("package.path = %q\npackage.cpath = %q\n")
    :format(package.path, package.cpath) .. chunk)
  local f = assert(io.popen("lua5.4 " .. shell_quote(path) .. " 2>&1"))
  local out = f:read("a")
  local _, _, code = f:close()
  os.remove(path)
  return code, out
end

describe("imapsift.connection alone", function()
  it("connects with STARTTLS to Dovecot and logs in", function()
    local code, out = run_fresh(([[
      local connection = require "imapsift.connection"
      local imap = connection.connect{ host = %q, port = %d,
        tls = "starttls", ca_file = %q, user = %q, password = %q,
        timeout = 20 }
      print(imap:state(), imap.tls_active, imap.capabilities.STARTTLS)
      for _, m in ipairs{ "commands", "extensions", "idle", "compress",
          "starttls" } do
        assert(package.loaded["imapsift." .. m] == nil, m .. " loaded")
      end
      imap:shutdown()
    ]]):format(server.host, server.imap_port, server.ca, USER,
      server.password))
    assert.equal("AUTH\ttrue\tnil\n", out)
    assert.equal(0, code)
  end)

  it("offers the login methods", function()
    local code, out = run_fresh([[
      local C = require("imapsift.connection").Connection
      print(type(C.login), type(C.login_with), type(C.authenticate),
        type(C.login_cram_md5))
    ]])
    assert.equal(0, code, out)
    assert.equal("function\tfunction\tfunction\tfunction\n", out)
  end)
end)

describe("one usage helper", function()
  it("errors.usage raises kind usage with a formatted text", function()
    local err = util.catch(errors.usage, "SELECT", "bad %s %d", "name", 3)
    assert.equal("usage", err.kind)
    assert.equal("SELECT", err.command)
    assert.equal("bad name 3", err.text)
  end)

  it("no module keeps a copy of its own", function()
    local dir = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$")
    local f = assert(io.popen("ls " .. shell_quote(
      (dir or ".") .. "/lua/imapsift") .. "/*.lua"))
    for path in f:lines() do
      if not path:find("/error%.lua$") then
        local text = util.read_file(path)
        assert.is_nil(text:find('kind = "usage", command = command', 1,
          true), path)
      end
    end
    f:close()
  end)
end)

describe("one BYE-to-error conversion", function()
  it("errors.from_bye gives kind bye with the code and text", function()
    local e = errors.from_bye({ type = "BYE", status = "BYE",
      code = { name = "UNAVAILABLE" }, text = "going down" }, "NOOP")
    assert.equal("bye", e.kind)
    assert.equal("NOOP", e.command)
    assert.equal("UNAVAILABLE", e.code)
    assert.equal("NOOP failed: BYE [UNAVAILABLE] going down", tostring(e))
  end)

  it("a BYE greeting raises kind bye", function()
    local err = session:start_error{
      { send = "* BYE [UNAVAILABLE] maintenance\r\n" }, { drain = true } }
    assert.equal("bye", err.kind)
    assert.equal("greeting", err.command)
    assert.equal("UNAVAILABLE", err.code)
  end)
end)

describe("modules named for their concern", function()
  it("idle.lua adds IDLE only; compress and starttls have their own",
      function()
    local code, out = run_fresh([[
      local C = require("imapsift.connection").Connection
      require "imapsift.idle"
      print(type(C.idle), type(C.compress), type(C.starttls))
      require "imapsift.compress"
      require "imapsift.starttls"
      print(type(C.compress), type(C.starttls))
    ]])
    assert.equal(0, code, out)
    assert.equal("function\tnil\tnil\nfunction\tfunction\n", out)
  end)

  it("require \"imapsift\" offers all of them", function()
    local imapsift = require "imapsift"
    for _, m in ipairs{ "idle", "compress", "starttls", "login" } do
      assert.is_function(imapsift.Connection[m], m)
    end
  end)
end)
