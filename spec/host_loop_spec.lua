-- spec/host_loop_spec.lua: the imapsift command's long-running modes, run
-- in the background and driven by signals: --every repeats, SIGTERM ends
-- the loop cleanly, SIGUSR1 runs at once, SIGHUP re-reads the script,
-- --watch runs when new mail arrives, and a failing run does not stop
-- the loop. Progress is read from the --log file; mail is put in and
-- checked over a direct connection, as spare user 14.
local core = require "imapsift.core"
local host = require "support.host"
local server = require "support.server"

server.as(14)
host.lock_user() -- also against runs outside ctest

local FINISHED = "run finished:"

local MOVE, messages, put = host.MOVE, host.messages, host.put

describe("imapsift's loop", function()
  local dir, proc, log

  before_each(function()
    dir = host.home()
    log = dir .. "/loop.log"
    proc = nil
    server.reset()
  end)

  after_each(function()
    if proc then proc:kill() end
    host.cleanup(dir)
  end)

  -- start(args...) -> the background process, logging to the log file.
  local function start(...)
    local args = { "--log", log }
    for _, a in ipairs{ ... } do args[#args + 1] = a end
    proc = host.start(dir, args)
    return proc
  end

  local function runs() return host.count(host.read(log), FINISHED) end

  local function wait_runs(n)
    assert.is_true(host.wait_text(log, FINISHED, n),
      ("fewer than %d runs; log:\n%s\nstderr:\n%s"):format(n,
        host.read(log) or "", proc:stderr()))
  end

  local function stop_cleanly()
    proc:signal("TERM")
    local code = proc:wait()
    assert.equal(0, code, proc:stderr())
  end

  it("--every 1s runs again and again until SIGTERM, then logs out",
      function()
    local trace = dir .. "/trace.txt"
    start("-v", "--trace", trace, "--every", "1s", host.script(dir, MOVE))
    wait_runs(2)
    stop_cleanly()
    -- the account's connection said goodbye, and the log says so (-v
    -- logs connection events)
    local sent = {}
    for line in (host.read(trace) or ""):gmatch("[^\n]+") do
      local c = line:match(" C: (.*)")
      if c then sent[#sent + 1] = c end
    end
    assert.matches("^A%d+ LOGOUT$", sent[#sent] or "")
    assert.matches("log%a*%s*out", proc:stderr():lower())
  end)

  it("SIGUSR1 runs at once", function()
    start("--every", "1h", host.script(dir, MOVE))
    wait_runs(1)
    assert.equal(1, runs())
    put{ { subject = "move me" } }
    proc:signal("USR1")
    wait_runs(2)
    assert.equal(1, messages("Done"))
    stop_cleanly()
  end)

  it("SIGHUP re-reads the script for the next run", function()
    local script = host.script(dir, [[
imapsift.rule("first", function() require("imapsift.plan").warn("e2e one") end)
]])
    start("--every", "1h", script)
    wait_runs(1)
    assert.is_true(host.wait_text(log, "e2e one", 1))
    host.script(dir, [[
imapsift.rule("second", function() require("imapsift.plan").warn("e2e two") end)
]])
    proc:signal("HUP")
    proc:signal("USR1")
    assert.is_true(host.wait_text(log, "[second] warning: e2e two", 1),
      host.read(log))
    wait_runs(2)
    assert.equal(1, host.count(host.read(log), "e2e one"), host.read(log))
    stop_cleanly()
  end)

  it("SIGHUP keeps the old script when the new one does not compile",
      function()
    local script = host.script(dir, [[
imapsift.rule("kept", function() require("imapsift.plan").warn("e2e kept") end)
]])
    start("--every", "1h", script)
    wait_runs(1)
    host.write(script, "this is not lua\n")
    proc:signal("HUP")
    proc:signal("USR1")
    wait_runs(2)
    local text = host.read(log)
    assert.equal(2, host.count(text, "[kept] warning: e2e kept"), text)
    assert.matches("reload", text)
    stop_cleanly()
  end)

  it("retries a run that could not connect, before --every is due",
      function()
    start("--every", "1h", host.script(dir, MOVE, { port = 1 }))
    wait_runs(3)
    assert.is_nil(proc:code(), "the loop stopped")
    stop_cleanly()
  end)

  it("--watch with --every also runs on schedule without new mail",
      function()
    start("--watch", "--every", "1s", host.script(dir, [[
acct.INBOX:watch()
]] .. MOVE))
    wait_runs(3)
    stop_cleanly()
  end)

  it("--watch runs again when new mail arrives in a watched mailbox",
      function()
    start("--watch", host.script(dir, [[
acct.INBOX:watch()
]] .. MOVE))
    wait_runs(1)
    assert.equal(0, host.count(host.read(log), "moved 1 message"))
    put{ { subject = "move me" } }
    assert.is_true(host.wait_text(log,
      "[mover] e2e: moved 1 message INBOX -> Done", 1), host.read(log))
    wait_runs(2)
    assert.equal(0, messages("INBOX"))
    assert.equal(1, messages("Done"))
    stop_cleanly()
  end)

  it("SIGINT ends the loop cleanly too", function()
    start("--every", "1h", host.script(dir, MOVE))
    wait_runs(1)
    proc:signal("INT")
    assert.equal(0, proc:wait(), proc:stderr())
  end)

  it("a second SIGTERM while stopping exits at once", function()
    start("--every", "1h", host.script(dir, [[
imapsift.rule("slow", function()
  require("imapsift.plan").warn("e2e sleeping")
  for _ = 1, 600 do require("imapsift.core").sleep(0.1) end
end)
]]))
    assert.is_true(host.wait_text(log, "e2e sleeping", 1), proc:stderr())
    -- a signal sent while the first is still undelivered merges with it:
    -- send again until the process ends
    assert.truthy(host.wait_for(function()
      proc:signal("TERM")
      core.sleep(0.4)
      return proc:code()
    end), "still running")
    assert.equal(128 + 15, proc:code())
    assert.matches("imapsift: second signal, exiting now", proc:stderr(),
      1, true)
  end)

  it("runs the script in a fresh environment every time", function()
    start("--every", "1s", host.script(dir, [[
imapsift.rule("env", function()
  require("imapsift.plan").warn("e2e global " .. tostring(E2E_GLOBAL))
end)
E2E_GLOBAL = "set"
]]))
    wait_runs(2)
    stop_cleanly()
    local text = host.read(log)
    assert.truthy(host.count(text, "e2e global nil") >= 2, text)
    assert.equal(0, host.count(text, "e2e global set"), text)
  end)

  it("logs a failing run in --every mode and goes on", function()
    start("--every", "1s", host.script(dir, [[
imapsift.rule("breaks", function() error("e2e loop boom") end)
]]))
    assert.is_true(host.wait_text(log, "e2e loop boom", 2), host.read(log))
    wait_runs(2)
    assert.is_nil(proc:code(), "the loop stopped")
  end)
end)
