-- spec/hardening_spec.lua: the defences around secrets and options: the
-- host cannot be dumped, secret commands have a deadline and a cap,
-- credentials never go over a command transport nobody declared secure,
-- no message repeats the transport command, and every bad connect option
-- is a structured usage error raised before anything is opened.
local imapsift = require "imapsift"
local errors = require "imapsift.error"
local fake = require "support.fake"
local util = require "support.util"

local session = fake.session()
after_each(function() session:cleanup() end)

local catch = util.catch

describe("the host", function()
  local build = assert(os.getenv("IMAPSIFT_BUILD"),
    "IMAPSIFT_BUILD must name the build directory (ctest sets it)")

  -- run_host(script) -> output of the host running script. As root the
  -- host runs as nobody: /proc/PID belongs to root only while the process
  -- is not dumpable (proc(5)), which is how the script sees it.
  local function run_host(script_text)
    local script = util.tmpname()
    util.write_file(script, script_text)
    os.execute("chmod 644 '" .. script .. "'")
    local prefix = ""
    local id = io.popen("id -u")
    if id:read("n") == 0 then
      prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups "
    end
    id:close()
    -- A core limit above zero to start from, where the hard limit allows.
    local f = assert(io.popen(("sh -c 'ulimit -S -c 1024 2>/dev/null; " ..
      "exec \"$@\"' sh %s%q %q 2>&1"):format(prefix, build .. "/imapsift",
      script)))
    local out = f:read("a")
    f:close()
    os.remove(script)
    return out
  end

  it("is not dumpable and has a zero core limit", function()
    local out = run_host([[
      local pid = io.open("/proc/self/stat"):read("n")
      local euid = io.open("/proc/self/status"):read("a")
        :match("\nUid:%s+%d+%s+(%d+)")
      local owner = io.popen("stat -c %u /proc/" .. pid .. "/status")
        :read("n")
      print(euid ~= "0", owner)
      local limits = io.open("/proc/self/limits"):read("a")
      print(limits:match("Max core file size%s+(%S+)%s+(%S+)"))
    ]])
    assert.equal("true\t0\n0\t0\n", out)
  end)
end)

-- A fake that greets with AUTH=PLAIN and logs what comes after.
local function plain_server()
  return { fake.greeting("IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2"),
    { drain = true } }
end

describe("secret commands", function()
  it("a password_command that never exits is killed at the deadline",
      function()
    local t0 = os.time()
    local err, srv = session:start_error(plain_server(), { user = "alice",
      password_command = "sleep 1000; echo late", secret_timeout = 0.5 })
    assert.equal("timeout", err.kind)
    assert.matches("password_command", err.text, 1, true)
    assert.matches("within 0.5 s", err.text, 1, true)
    -- Generous: the point is that it did not wait for the sleep.
    assert.is_true(os.time() - t0 < 60)
    assert.equal("", srv:log())
  end)

  it("a token_command that never exits is killed too", function()
    local err = session:start_error(plain_server(), { user = "alice",
      token_command = "sleep 1000", secret_timeout = 0.5 })
    assert.equal("timeout", err.kind)
    assert.matches("token_command", err.text, 1, true)
  end)

  it("what the deadline kills includes the command's children", function()
    local flag = util.tmpname()
    os.remove(flag)
    local err = session:start_error(plain_server(), { user = "alice",
      password_command = "(sleep 2; echo alive > '" .. flag .. "') & " ..
        "sleep 1000", secret_timeout = 0.5 })
    assert.equal("timeout", err.kind)
    os.execute("sleep 3")
    assert.is_nil(util.read_file(flag))
  end)

  it("output past the cap is a limit error, not memory", function()
    local err, srv = session:start_error(plain_server(), { user = "alice",
      password_command = "yes" })
    assert.equal("limit", err.kind)
    assert.matches("more than 65536 bytes", err.text, 1, true)
    assert.equal("", srv:log())
  end)

  it("output under the cap gives its first line", function()
    local imap, srv = session:start({ fake.greeting("IMAP4rev1"),
      { recv = "^A1 LOGIN alice pw1\r\n$" },
      { reply = "OK [CAPABILITY IMAP4rev1] in" } },
      { user = "alice", password_command = "printf 'pw1\\n'; " ..
        "head -c 60000 /dev/zero" })
    assert.equal("AUTH", imap:state())
    session.finish(imap, srv) -- waits for the fake to exit
    assert.equal("done", srv:status())
  end)

  it("run_command reports the exit status and keeps the environment",
      function()
    local out, how, code = imapsift.core.run_command(
      "echo \"$HOME\"; exit 7", 10, 100)
    assert.equal(os.getenv("HOME") .. "\n", out)
    assert.equal("exit", how)
    assert.equal(7, code)
  end)
end)

describe("the crypto primitives", function()
  it("xor works on keys, not on unbounded input", function()
    local core = imapsift.core
    assert.equal(("\0"):rep(1024), core.xor(("k"):rep(1024),
      ("k"):rep(1024)))
    assert.is_false(pcall(core.xor, ("k"):rep(1025), ("k"):rep(1025)))
  end)
end)

describe("credentials over a command transport", function()
  it("are refused before anything runs unless declared secure", function()
    local srv = session:new(plain_server())
    local err = catch(imapsift.connect, srv:options{ secure = false,
      user = "alice", password = "pw" })
    assert.equal("usage", err.kind)
    assert.matches("secure", err.text, 1, true)
    assert.is_nil(srv:status()) -- the fake never even started
    assert.equal("", srv:log())
  end)

  it("login() on an undeclared command transport sends nothing", function()
    local imap, srv = session:start({ fake.greeting("IMAP4rev1"),
      { drain = true } }, { secure = false })
    assert.is_false(imap:secure())
    local err = catch(imap.login, imap, "alice", "pw")
    assert.equal("usage", err.kind)
    assert.equal("", session.finish(imap, srv))
  end)

  it("go with secure = true, or allow_plaintext", function()
    for _, extra in ipairs{ { secure = true },
        { secure = false, allow_plaintext = true } } do
      extra.user, extra.password = "alice", "pw"
      local imap = session:start({ fake.greeting("IMAP4rev1"),
        { recv = "^A1 LOGIN alice pw\r\n$" },
        { reply = "OK [CAPABILITY IMAP4rev1] in" } }, extra)
      assert.equal("AUTH", imap:state())
    end
  end)

  it("secure applies to command transports only", function()
    local err = catch(imapsift.connect, { host = "127.0.0.1", port = 1,
      tls = "none", secure = true })
    assert.equal("usage", err.kind)
  end)
end)

describe("the transport command is never repeated", function()
  local SECRET = "hunter2-in-the-command"

  it("in connect errors or tostring(connection)", function()
    local srv = session:new{ { send = "garbage\r\n" }, { drain = true } }
    local o = srv:options()
    o.command = o.command .. " # " .. SECRET
    local err = catch(imapsift.connect, o)
    assert.is_nil(tostring(err):find(SECRET, 1, true))
    local ok_srv = session:new{ fake.greeting(), { drain = true } }
    o = ok_srv:options()
    o.command = o.command .. " # " .. SECRET
    local imap = imapsift.connect(o)
    session.conns[#session.conns + 1] = imap
    assert.is_nil(tostring(imap):find(SECRET, 1, true))
  end)

  it("in a failed TLS handshake over the command", function()
    local srv = session:new{ { send = "not TLS at all\r\n" },
      { close = true } }
    local o = srv:options{ tls = "implicit" }
    o.command = o.command .. " # " .. SECRET
    local err = catch(imapsift.connect, o)
    assert.equal("connect through command", err.command)
    assert.is_nil(tostring(err):find(SECRET, 1, true))
  end)
end)

describe("connect options", function()
  -- Port 1 on loopback: anything that got as far as connecting would
  -- fail with kind "connect", not "usage".
  local function bad(extra)
    local o = { host = "127.0.0.1", port = 1, tls = "none", timeout = 2 }
    for k, v in pairs(extra) do o[k] = v end
    return catch(imapsift.connect, o)
  end

  local cases = {
    { ca_file = false }, { ca_path = 42 }, { verify = "yes" },
    { servername = {} }, { host = 127 }, { port = false },
    { port = 0 }, { port = 70000 }, { port = 1.5 }, { tls = "bogus" },
    { tls = 1 }, { timeout = 0 }, { timeout = -1 }, { timeout = "10" },
    { timeout = 0 / 0 }, { secret_timeout = 0 }, { max_line = 0 },
    { max_line = 10.5 }, { limits = "big" }, { limits = { max_line = 0 } },
    { limits = { max_depth = "9" } }, { on_alert = "print" },
    { allow_plaintext = 1 }, { trace = "yes" }, { debug = "5" },
    { command = true }, { user = 1, password = "p" },
  }

  for i, extra in ipairs(cases) do
    local keys = {}
    for k, v in pairs(extra) do keys[#keys + 1] = k .. "=" .. tostring(v) end
    it("rejects " .. table.concat(keys, ", ") .. " (case " .. i .. ")",
        function()
      local err = bad(extra)
      assert.equal("usage", err.kind)
      assert.equal("connect", err.command)
      assert.is_nil(tostring(err):find("%.lua:%d"))
    end)
  end

  it("rejects options that are not a table", function()
    local err = catch(imapsift.connect, "imap.example.org")
    assert.equal("usage", err.kind)
    assert.is_true(errors.is(err))
  end)

  it("accepts a well-formed set (and then fails to connect)", function()
    local err = bad{ timeout = 0.5, limits = { max_line = 100000 },
      max_line = 4000, verify = true, on_alert = print }
    assert.equal("connect", err.kind)
  end)
end)
