-- Specs for imapsift.loop in-process, with the clock's waits and the
-- signals played from a script: --every runs after each wait, SIGUSR1
-- runs at once, SIGHUP reads the script again (a broken one is kept
-- out), SIGTERM stops with 0, runs that cannot connect back off, and
-- --watch without a watched mailbox says so.
local core = require "imapsift.core"
local loop = require "imapsift.loop"
local log = require "imapsift.log"
local watch = require "imapsift.watch"
local cli = require "imapsift.cli"

local saved = {}
local lines, waits, events, stopped

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- play(list): each wait takes the next step: "timeout", or a table of
-- signals ({ USR1 = true }) that arrived during it. Past the end: TERM.
local function play(list)
  events, stopped = list, nil
  local pending
  core.signals_install = function() end
  core.stopping = function() return stopped end
  core.signals_take = function()
    local s = pending or {}
    pending = nil
    return s
  end
  core.wait = function(t)
    waits[#waits + 1] = t or "forever"
    local step = table.remove(events, 1) or { TERM = true }
    if step == "timeout" then return "timeout" end
    if step.TERM then stopped = "TERM" end
    pending = step
    return "signal"
  end
end

local function main(args)
  local code = loop.main(assert(cli.parse(args)))
  return code
end

local function runs() return rawget(_G, "loop_spec_runs") or 0 end

describe("imapsift.loop", function()
  local script

  setup(function()
    for _, k in ipairs{ "signals_install", "stopping", "signals_take",
      "wait" } do saved[k] = core[k] end
    saved.setup = log.setup
    saved.watch_new = watch.new
    -- Keep the log in memory whatever main asks of it.
    log.setup = function(o)
      local copy = {}
      for k, v in pairs(o) do copy[k] = v end
      copy.stderr = function(s) lines[#lines + 1] = s end
      copy.stdout = copy.stderr
      copy.file = nil
      return saved.setup(copy)
    end
  end)

  teardown(function()
    for _, k in ipairs{ "signals_install", "stopping", "signals_take",
      "wait" } do core[k] = saved[k] end
    log.setup = saved.setup
    watch.new = saved.watch_new
    log.reset()
    require("imapsift.plan").should_stop = function() return false end
  end)

  before_each(function()
    lines, waits = {}, {}
    rawset(_G, "loop_spec_runs", 0)
    script = os.tmpname()
    write(script, "loop_spec_runs = loop_spec_runs + 1\n" ..
      "rawset(_G, 'loop_spec_runs', loop_spec_runs)\n" ..
      "rawset(_G, 'loop_spec_version', 1)\n")
  end)

  after_each(function() os.remove(script) end)

  local function logged() return table.concat(lines) end

  it("--every: a run after each wait of DUR, SIGUSR1 at once, then SIGTERM",
      function()
    play{ "timeout", { USR1 = true }, { TERM = true } }
    assert.equal(0, main{ "--every", "90s", script })
    assert.equal(3, runs())
    assert.equal(3, #waits)
    assert.is_true(waits[1] > 89 and waits[1] <= 90, tostring(waits[1]))
    assert.matches("stopping on SIGTERM", logged())
  end)

  it("SIGHUP reads the script again; one that does not compile is kept out",
      function()
    play{ "timeout", { HUP = true }, "timeout", { HUP = true }, "timeout" }
    local orig = core.wait
    local n = 0
    core.wait = function(t)
      n = n + 1
      if n == 2 then
        write(script, "rawset(_G, 'loop_spec_version', 2)\n" ..
          "rawset(_G, 'loop_spec_runs', (rawget(_G, 'loop_spec_runs') or 0) + 1)\n")
      elseif n == 4 then
        write(script, "this is not lua")
      end
      return orig(t)
    end
    assert.equal(0, main{ "--every", "1h", script })
    assert.equal(2, rawget(_G, "loop_spec_version"))
    assert.equal(4, runs())
    assert.matches("script reloaded", logged())
    assert.matches("reload failed, keeping the old script", logged())
  end)

  it("backs off after runs that cannot connect: 1 s, 2 s, 4 s with jitter",
      function()
    write(script, [[
      local imapsift = require "imapsift"
      if arg[1] == "down" then
        imapsift.account{ host = "127.0.0.1", port = 1, tls = "none",
          user = "u", password = "p", allow_plaintext = true }:conn()
      end
    ]])
    play{ "timeout", "timeout", "timeout" }
    assert.equal(0, main{ "--every", "1h", script, "down" })
    -- 1 s then 2 s steps, each with jitter in their upper half.
    assert.is_true(waits[1] >= 0.5 and waits[1] <= 1, tostring(waits[1]))
    assert.is_true(waits[2] >= 1 and waits[2] <= 2, tostring(waits[2]))
    assert.is_true(waits[3] >= 2 and waits[3] <= 4, tostring(waits[3]))
    assert.matches("retrying in", logged())
  end)

  it("--watch without a watched mailbox warns and waits for signals", function()
    play{ { USR1 = true }, { TERM = true } }
    local made = {}
    watch.new = function()
      local w = { updates = 0 }
      function w.update(_, reqs) w.updates = w.updates + 1; w.last = reqs end
      function w.wait(_, t) return {}, core.wait(t) == "signal" end
      function w.close() w.closed = true end
      function w.count() return 0 end
      made[#made + 1] = w
      return w
    end
    assert.equal(0, main{ "--watch", script })
    watch.new = saved.watch_new
    assert.equal(2, runs())
    assert.same({ "forever", "forever" }, waits)
    assert.equal(1, #made)
    assert.equal(2, made[1].updates)
    assert.is_true(made[1].closed)
    assert.equal(1, select(2, logged():gsub("watches no mailbox", "")))
  end)
end)
