-- imapsift.loop: what the command does with its parsed options: sets up
-- the log and signals, loads the script, and runs it once or again and
-- again (--every, --watch), reading it anew on SIGHUP, running at once
-- on SIGUSR1, backing off after runs that could not connect, and
-- stopping cleanly on SIGTERM or SIGINT.

local core = require "imapsift.core"
local errors = require "imapsift.error"
local plan = require "imapsift.plan"
local account = require "imapsift.account"
local reconnect = require "imapsift.reconnect"
local runner = require "imapsift.runner"
local cli = require "imapsift.cli"
local log = require "imapsift.log"

local M = {}

-- Backoff after runs that failed to connect: 1 s doubling, 5 min cap.
M.BACKOFF_BASE, M.BACKOFF_CAP = 1, 300

local function setup(o)
  local level = cli.level(o)
  if o.check then level = -1 end
  log.setup{ level = level, format = o.log_format or "text",
    file = o.log_file, plan_to_stdout = o.dry and true or false }
  if o.trace then account.defaults.trace = log.trace_writer(o.trace) end
  account.on_event = function(name, what)
    log.verbose(("%s: %s"):format(name, what), { event = "connection",
      account = name, what = what })
  end
  core.signals_install()
  plan.should_stop = function() return core.stopping() ~= nil end
end

local function stopping() return core.stopping() end

-- load(o) -> program, or nil and the exit code after logging why.
local function load_program(o)
  local prog, err = runner.load(o)
  if prog then return prog end
  if errors.is(err) then
    log.error(err.text or tostring(err))
    return nil, cli.classify(err)
  end
  log.error(tostring(err))
  return nil, cli.EXIT.script
end

-- What a run prints on standard output: the dry run's summary, the
-- --check report.
local function print_result(o, result)
  if o.check then
    for _, line in ipairs(result.check_lines or {}) do print(line) end
    if result.script_error then print("script: failed") end
  elseif o.dry and result.summary_text ~= "" then
    print(result.summary_text)
  end
  io.stdout:flush()
end

local function run(o, prog)
  log.verbose("run starting")
  local code, result = runner.run_once(o, prog)
  print_result(o, result)
  return code, result
end

local function single(o, prog)
  local code = run(o, prog)
  if stopping() then return cli.EXIT.ok end
  return code
end

---------------------------------------------------------------------------
-- Loop mode

-- reload(o, prog) -> the program to run next: the script read again, or
-- the old one when the new one does not compile (logged).
local function reload(o, prog)
  local new, err = runner.load(o)
  if new then
    log.info("script reloaded")
    return new
  end
  log.error("reload failed, keeping the old script: " .. tostring(err))
  return prog
end

-- The signals that arrived: "stop" (TERM, INT), "run" (USR1) or
-- "again" (keep waiting), and whether to read the script anew (HUP).
local function take_signals()
  local sigs = core.signals_take()
  if sigs.TERM or sigs.INT or stopping() then return "stop" end
  return sigs.USR1 and "run" or "again", sigs.HUP
end

-- Waits up to t seconds (nil: forever) for news or a signal; returns
-- "run", "stop", "again" or "timeout", and whether to reload. A signal
-- goes before news: a stop is not delayed by one more run.
local function wait_once(watchers, t)
  local news, signaled
  if watchers then
    news, signaled = watchers:wait(t)
  else
    signaled = core.wait(t) == "signal"
  end
  local what, hup = "timeout", false
  if signaled then what, hup = take_signals() end
  if what ~= "stop" and news and #news > 0 then
    for _, n in ipairs(news) do
      log.verbose(("new mail in %s on %s"):format(n.mailbox, n.account))
    end
    what = "run"
  end
  return what, hup
end

-- Waits until the next run is due; returns "run" or "stop" and the
-- program to run (reloaded after SIGHUP).
local function wait_next(o, prog, watchers, delay)
  local deadline = delay and core.monotonic() + delay
  while true do
    local left = deadline and math.max(0, deadline - core.monotonic())
    if left == 0 then return "run", prog end
    local what, hup = wait_once(watchers, left)
    if hup then prog = reload(o, prog) end
    if what == "stop" then return "stop", prog end
    if what == "run" or (what == "timeout" and deadline) then
      return "run", prog
    end
  end
end

-- After a run the watchers follow what the script asked to watch. A run
-- that failed before reaching its watch() calls asks for nothing: the
-- watchers of the last good run stay, so new mail still wakes the loop.
local function update_watchers(watchers, warned, code)
  local watch = require "imapsift.watch"
  local requests = watch.requests()
  if #requests == 0 and code ~= cli.EXIT.ok and watchers:count() > 0 then
    return warned
  end
  watchers:update(requests)
  if #requests == 0 and not warned then
    log.warn("--watch: the script watches no mailbox " ..
      "(call mailbox:watch()); waiting for --every or signals only")
    return true
  end
  return warned
end

local WATCH_LEVELS = { error = true, warn = true, info = true,
  verbose = true, debug = true }

local function loop(o, prog)
  local watchers = o.watch and require("imapsift.watch").new{
    log = function(level, text)
      local fn = WATCH_LEVELS[level] and log[level] or log.info
      fn(text, { event = "watch" })
    end }
  local failures, warned = 0, false
  while true do
    local code = run(o, prog)
    if stopping() then
      log.info("stopping on SIG" .. stopping())
      break
    end
    local delay = o.every
    if code == cli.EXIT.connection then
      failures = failures + 1
      delay = reconnect.backoff_delay(failures, M.BACKOFF_BASE, M.BACKOFF_CAP)
      -- Never later than the schedule would have run it anyway.
      if o.every then delay = math.min(delay, o.every) end
      log.info(("retrying in %.0f s"):format(delay))
    else
      failures = 0
    end
    if watchers then warned = update_watchers(watchers, warned, code) end
    local what
    what, prog = wait_next(o, prog, watchers, delay)
    if what == "stop" then
      log.info("stopping on SIG" .. (stopping() or "TERM"))
      break
    end
  end
  if watchers then watchers:close() end
  return cli.EXIT.ok
end

-- main(o) -> exit code: o is cli.parse's result.
function M.main(o)
  local ok, err = pcall(setup, o)
  if not ok then
    io.stderr:write("imapsift: ", errors.escape(tostring(err)), "\n")
    return cli.EXIT.usage
  end
  local prog, code = load_program(o)
  if not prog then return code end
  if o.every or o.watch then return loop(o, prog) end
  return single(o, prog)
end

return M
