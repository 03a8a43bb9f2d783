-- Specs for imapsift.core's process-level functions: poll over several
-- connections, signals (flags, self-pipe, stop state), and the system
-- helpers (terminal, atomic files, directories, versions, clocks).
local core = require "imapsift.core"
local fake = require "support.fake"
local util = require "support.util"

-- A connection to a fake server playing steps; the server stays until
-- the connection is closed (it drains what the client sends).
local servers, conns = {}, {}
local function spawn(steps)
  local srv = fake.new(steps)
  servers[#servers + 1] = srv
  local conn = assert(core.spawn{ command = srv:command(), timeout = 30 })
  conns[#conns + 1] = conn
  return conn
end

local function cleanup()
  for _, c in ipairs(conns) do c:close() end
  for _, s in ipairs(servers) do s:cleanup() end
  servers, conns = {}, {}
end

-- Sends sig to this process from a child; with delay, in the background.
local function kill_self(sig, delay)
  if delay then
    os.execute(("(sleep %s; kill -%s %d) &"):format(delay, sig,
      core.getpid()))
  else
    os.execute(("kill -%s %d"):format(sig, core.getpid()))
  end
end

describe("core.poll", function()
  after_each(cleanup)

  it("reports only the connection that sent something", function()
    local quiet = spawn{ { drain = true } }
    local talker = spawn{ { send = "* OK hi\r\n" }, { drain = true } }
    local ready, signaled = core.poll({ quiet, talker }, 30)
    assert.same({ 2 }, ready)
    assert.is_false(signaled)
    local r = assert(talker:read(30))
    assert.equal("OK", r.type)
    assert.same({}, (core.poll({ quiet, talker }, 0)))
  end)

  it("counts bytes already buffered in the connection as ready", function()
    local talker = spawn{ { send = "* OK one\r\n* OK two\r\n" },
                          { drain = true } }
    assert.same({ 1 }, (core.poll({ talker }, 30)))
    assert(talker:read(30))
    -- the second response came in the same read: the fd is quiet now
    assert.is_true(talker:unread() > 0)
    assert.same({ 1 }, (core.poll({ talker }, 0)))
    assert(talker:read(30))
    assert.same({}, (core.poll({ talker }, 0)))
  end)

  it("returns nothing when the timeout passes", function()
    local quiet = spawn{ { drain = true } }
    local ready, signaled = core.poll({ quiet }, 0.1)
    assert.same({}, ready)
    assert.is_false(signaled)
    assert.same({}, (core.poll({}, 0.05)))
  end)

  it("reports a closed connection, so its reader sees why", function()
    local quiet = spawn{ { drain = true } }
    local gone = spawn{ { close = true } }
    assert.same({ 2 }, (core.poll({ quiet, gone }, 30)))
    quiet:close()
    assert.same({ 1, 2 }, (core.poll({ quiet, gone }, 30)))
  end)

  it("refuses bad arguments", function()
    assert.has_error(function() core.poll({ 1 }, 0) end)
    assert.has_error(function() core.poll({}, -1) end)
    assert.has_error(function() core.poll({}, 0 / 0) end)
    assert.has_error(function() core.poll("x", 0) end)
    local many = {}
    local one = spawn{ { drain = true } }
    for i = 1, 4097 do many[i] = one end
    local ok, err = pcall(core.poll, many, 0)
    assert.is_false(ok)
    assert.equal("usage", err.kind)
  end)
end)

describe("core signals", function()
  setup(function() core.signals_install() end)
  before_each(function() core.signals_take() end)
  after_each(cleanup)

  it("installs once and again without harm", function()
    core.signals_install()
    assert.same({}, core.signals_take())
    assert.is_nil(core.stopping())
  end)

  it("wakes wait and is taken once", function()
    kill_self("USR1")
    assert.equal("signal", core.wait(30))
    -- still pending until taken
    assert.equal("signal", core.wait(30))
    assert.same({ USR1 = true }, core.signals_take())
    assert.same({}, core.signals_take())
    assert.equal("timeout", core.wait(0.05))
    assert.is_nil(core.stopping())
  end)

  it("wakes poll with signaled and an empty ready list", function()
    local quiet = spawn{ { drain = true } }
    kill_self("HUP", 0.2)
    local ready, signaled = core.poll({ quiet }, 30)
    assert.same({}, ready)
    assert.is_true(signaled)
    assert.same({ HUP = true }, core.signals_take())
    ready, signaled = core.poll({ quiet }, 0)
    assert.same({}, ready)
    assert.is_false(signaled)
  end)

  it("gathers several signals in one take", function()
    kill_self("USR1")
    kill_self("HUP")
    assert.equal("signal", core.wait(30))
    assert.same({ USR1 = true, HUP = true }, core.signals_take())
  end)

  it("refuses a negative wait", function()
    assert.has_error(function() core.wait(-1) end)
    assert.has_error(function() core.wait(0 / 0) end)
  end)
end)

describe("core system helpers", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(core.mkdir_p(dir))
  end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function listing(d)
    local p = assert(io.popen("ls -A '" .. d .. "'"))
    local names = {}
    for name in p:lines() do names[#names + 1] = name end
    p:close()
    return names
  end

  local function mode_of(path)
    local p = assert(io.popen("stat -c %a '" .. path .. "'"))
    local mode = p:read("l")
    p:close()
    return mode
  end

  it("writes a file atomically, mode 0600, leaving no temporary", function()
    local path = dir .. "/f.state"
    assert.is_true(core.write_file_atomic(path, "one\0two"))
    assert.equal("one\0two", util.read_file(path))
    assert.equal("600", mode_of(path))
    assert.is_true(core.write_file_atomic(path, "three"))
    assert.equal("three", util.read_file(path))
    assert.same({ "f.state" }, listing(dir))
    assert.is_true(core.write_file_atomic(path, "", tonumber("644", 8)))
    assert.equal("", util.read_file(path))
    assert.equal("644", mode_of(path))
  end)

  it("fails cleanly when the directory is missing", function()
    local ok, why = core.write_file_atomic(dir .. "/no/f", "x")
    assert.is_nil(ok)
    assert.matches("/no/f: creating a temporary file: No such file", why,
      1, true)
    assert.same({}, listing(dir))
    assert.has_error(function() core.write_file_atomic("", "x") end)
    assert.has_error(function() core.write_file_atomic(dir .. "/f", {}) end)
  end)

  it("creates nested directories, existing ones kept", function()
    assert.is_true(core.mkdir_p(dir .. "/a/b//c/"))
    assert.equal("700", mode_of(dir .. "/a/b/c"))
    assert.is_true(core.mkdir_p(dir .. "/a/b/c"))
    assert.is_true(core.mkdir_p(dir .. "/a/d", tonumber("755", 8)))
    assert.equal("755", mode_of(dir .. "/a/d"))
    assert(core.write_file_atomic(dir .. "/file", "x"))
    local ok, why = core.mkdir_p(dir .. "/file/sub")
    assert.is_nil(ok)
    assert.matches("Not a directory", why, 1, true)
  end)

  it("names the libraries in use", function()
    local v = core.versions()
    assert.matches("^Lua 5%.4%.%d+$", v.lua)
    assert.matches("^OpenSSL %d+%.%d+%.%d+", v.openssl)
    assert.matches("^%d+%.%d+ ", v.pcre2)
    assert.matches("^%d+%.%d+", v.zlib)
  end)

  it("tells terminals, time and its process id", function()
    assert.is_boolean(core.isatty(0))
    assert.is_false(core.isatty(-1))
    local t = core.time()
    assert.is_true(math.abs(t - os.time()) <= 2)
    assert.is_true(math.type(core.getpid()) == "integer" and
      core.getpid() > 1)
    local p = assert(io.popen("echo $PPID"))
    assert.equal(tostring(core.getpid()), p:read("l"))
    p:close()
  end)

  it("reads a password from the terminal without echoing it", function()
    if not os.execute("command -v script >/dev/null 2>&1") then
      pending("script(1) is not installed")
      return
    end
    local ask = dir .. "/ask.lua"
    assert(core.write_file_atomic(ask,
      "local c = require 'imapsift.core'\n" ..
      "local p, e = c.getpass('Password: ')\n" ..
      "print('got[' .. tostring(p) .. ']', e)\n"))
    local out = dir .. "/out"
    -- the secret is typed once the prompt shows (echo is off by then)
    local cmd = ("(for i in $(seq 300); do grep -q Password: %s && break;" ..
      " sleep 0.1; done; printf 'sekret\\n') | " ..
      "script -qec \"lua5.4 -e \\\"package.cpath='%s/lib/?.so;'" ..
      "..package.cpath\\\" %s\" /dev/null >%s 2>&1")
      :format(out, os.getenv("IMAPSIFT_BUILD"), ask, out)
    os.execute(cmd)
    local text = util.read_file(out)
    assert.matches("got%[sekret%]\tnil", text)
    -- once in the result line, never echoed
    local _, n = text:gsub("sekret", "")
    assert.equal(1, n)
  end)

  it("has no terminal to ask when there is none", function()
    -- setsid detaches the child from any controlling terminal
    local script = dir .. "/ask.lua"
    assert(core.write_file_atomic(script,
      "local c = require 'imapsift.core'\n" ..
      "print(c.getpass('Password: '))\n"))
    local cmd = ("setsid lua5.4 -e \"package.cpath='%s/lib/?.so;'" ..
      "..package.cpath\" %s </dev/null 2>&1")
      :format(os.getenv("IMAPSIFT_BUILD"), script)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    assert.equal("nil\tno terminal\n", out)
  end)
end)
