-- imapsift.runner: one run of a rules script: compile it (and the -e
-- chunks), reset the per-run records, run it in a fresh environment,
-- log the accounts out, commit the state, write the plan, log the
-- summary and work out the exit code. --check's checks live here too.

local errors = require "imapsift.error"
local plan = require "imapsift.plan"
local account = require "imapsift.account"

local M = {}

-- Modules of the command that may be absent from a reduced build
-- (loaded lazily so that this module loads on its own in specs).
local function optional(name)
  local ok, mod = pcall(require, name)
  return ok and mod or nil
end

-- The log module; until it is part of the build, a plain stand-in.
local fallback
local function log()
  local ok, mod = pcall(require, "imapsift.log")
  if ok then return mod end
  if not fallback then
    local level = 0
    local function at(min)
      return function(text)
        if level >= min then io.stderr:write("imapsift: ", text, "\n") end
      end
    end
    fallback = { error = at(-1), warn = at(0), info = at(0),
      verbose = at(1), debug = at(2) }
    function fallback.setup(o) level = o.level or 0 end
    function fallback.summary(t)
      fallback.info(("run finished: %d examined, %d moved, %d copied, " ..
        "%d deleted, %d flagged, %d errors in %.1f s"):format(t.examined,
        t.moved, t.copied, t.deleted, t.flagged, t.errors, t.seconds))
    end
    function fallback.trace_writer() return nil end
    function fallback.write_plan() return nil, "no log module" end
  end
  return fallback
end
M.log = log

---------------------------------------------------------------------------
-- Loading

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

local function compile(text, name)
  return load(text, name, "t", setmetatable({}, { __index = _G }))
end

-- load(o) -> program, or nil and an error (kind "usage" for a script
-- that cannot be read, a string for a compile error). o: { script,
-- chunks, args } as cli.parse returns. The sources are kept: each run
-- compiles them again in its own environment.
function M.load(o)
  local prog = { chunks = {}, script = o.script, args = o.args or {} }
  for i, chunk in ipairs(o.chunks or {}) do
    local _, err = compile(chunk, "=(command line)")
    if err then return nil, err end
    prog.chunks[i] = chunk
  end
  if o.script then
    local text, err = read_file(o.script)
    if not text then
      return nil, errors.new{ kind = "usage",
        text = "cannot read the script " .. tostring(err) }
    end
    local _, cerr = compile(text:gsub("^#![^\n]*", ""), "@" .. o.script)
    if cerr then return nil, cerr end
    prog.text = text:gsub("^#![^\n]*", "")
  end
  return prog
end

---------------------------------------------------------------------------
-- Running

-- The message of an error escaping the script, with its traceback.
local function traceback(err)
  local msg = errors.is(err) and tostring(err) or err
  if type(msg) ~= "string" then
    msg = ("(error object is a %s value)"):format(type(msg))
  end
  -- The frames below the script's (this module, the command) are noise.
  local tb = debug.traceback(msg, 2):gsub("\n\t%[C%]: in function 'xpcall'.*$",
    "")
  return { err = err, text = tb }
end

-- Runs the chunks then the script in one fresh environment; returns
-- nil, or { err, text } for an error that escaped.
local function execute(prog)
  local argt = { [0] = prog.script }
  for i, a in ipairs(prog.args) do argt[i] = a end
  local env = setmetatable({ arg = argt }, { __index = _G })
  local fns = {}
  for i, chunk in ipairs(prog.chunks) do
    fns[i] = assert(load(chunk, "=(command line)", "t", env))
  end
  if prog.text then
    local fn, err = load(prog.text, "@" .. prog.script, "t", env)
    if not fn then return { err = err, text = err } end
    fns[#fns + 1] = fn
  end
  for _, fn in ipairs(fns) do
    local ok, res = xpcall(fn, traceback, table.unpack(prog.args))
    if not ok then return res end
  end
  return nil
end

-- Forget what the previous run recorded.
local function reset(o)
  plan.reset()
  plan.dry_run(o.dry or o.check or false)
  account.reset_run()
  local watch, state = optional("imapsift.watch"), optional("imapsift.state")
  if watch then watch.reset() end
  if state then state.discard() end
end

local COUNTERS = { "examined", "moved", "copied", "deleted", "flagged" }

-- The run's totals over all rules, for log.summary.
local function totals(dry, seconds, nerrors)
  local t = { errors = nerrors, seconds = seconds, dry = dry }
  for _, k in ipairs(COUNTERS) do t[k] = 0 end
  for _, c in ipairs((plan.summary())) do
    for _, k in ipairs(COUNTERS) do t[k] = t[k] + (c[k] or 0) end
  end
  return t
end

---------------------------------------------------------------------------
-- --check

local function is_inbox(name) return name:upper() == "INBOX" end

-- The mailboxes a run named in acct: every acct:mailbox(name) used, and
-- which of them were action destinations.
local function named(acct, dests)
  local out = {}
  for name in pairs(rawget(acct, "boxes") or {}) do
    out[#out + 1] = { name = name, dest = dests[name] or false }
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

local function destinations(name)
  local d = {}
  for _, e in ipairs(plan.entries()) do
    if e.destination and (e.destination_account or e.account) == name then
      d[e.destination] = true
    end
  end
  return d
end

-- check_account(acct, out) -> exit code: logs in, lists, reports.
local function check_account(acct, out)
  local ok, names = pcall(function()
    acct:conn()
    return acct:list()
  end)
  if not ok then
    out[#out + 1] = ("account %s: %s"):format(acct.name,
      errors.escape(tostring(names)))
    local cli = require "imapsift.cli"
    return cli.classify(names)
  end
  out[#out + 1] = ("account %s: ok"):format(acct.name)
  local have, code = {}, 0
  for _, n in ipairs(names) do have[n] = true end
  for _, mb in ipairs(named(acct, destinations(acct.name))) do
    if not (have[mb.name] or is_inbox(mb.name)) then
      if mb.dest and acct.create then
        out[#out + 1] = ("mailbox %s on %s: will be created"):format(
          errors.escape(mb.name), acct.name)
      else
        out[#out + 1] = ("missing mailbox %s on %s"):format(
          errors.escape(mb.name), acct.name)
        code = 1
      end
    end
  end
  return code
end

-- check() -> exit code, lines: the --check report of the run just done.
function M.check()
  local cli = require "imapsift.cli"
  local code, out = 0, {}
  for _, acct in ipairs(account.all()) do
    code = cli.worst(code, check_account(acct, out))
  end
  return code, out
end

---------------------------------------------------------------------------
-- One run

-- The exit code of a run: the script's error, the failed rules', the
-- accounts that could not connect.
local function classify(result)
  local cli = require "imapsift.cli"
  local code = 0
  if result.script_error then
    code = cli.worst(code, cli.classify(result.script_error.err))
  end
  for _, e in ipairs(result.rule_errors) do
    code = cli.worst(code, cli.classify(e.error))
  end
  for _, f in ipairs(account.failures()) do
    code = cli.worst(code, cli.classify(f.error))
  end
  return code
end

-- The script's error: its message, then (text log) the traceback a
-- line at a time; a JSON log gets the traceback as a field.
local function report_script_error(res, o)
  local text = res.text
  local first, rest = text:match("^([^\n]*)\n?(.*)$")
  if o.log_format == "json" then
    log().error(first, { event = "script_error", traceback = rest })
    return
  end
  log().error(first, { event = "script_error" })
  for line in rest:gmatch("[^\n]+") do
    log().error((line:gsub("\t", "  ")), { event = "script_error" })
  end
end

-- After the script: check (--check), log out, commit the state.
local function finish_run(o, result)
  if o.check then
    result.check_code, result.check_lines = M.check()
  end
  local ok, err = pcall(account.finish)
  if not ok then
    log().warn("logging out: " .. tostring(err))
  end
  local state = optional("imapsift.state")
  if state and not (o.dry or o.check) and not result.script_error then
    local sok, serr = pcall(state.commit)
    if not sok then result.commit_error = serr end
  end
end

-- run_once(o, prog) -> exit code, result. o: cli.parse's options;
-- prog: M.load's program. result: { script_error = { err, text },
-- rule_errors = plan.errors(), entries, summary, check_lines,
-- stopped = whether a stop was asked for }.
function M.run_once(o, prog)
  local started = os.clock and require("imapsift.core").monotonic()
  reset(o)
  local result = { script_error = execute(prog) }
  if result.script_error then report_script_error(result.script_error, o) end
  finish_run(o, result)
  result.rule_errors = plan.errors()
  result.entries = plan.entries()
  local summary, text = plan.summary()
  result.summary, result.summary_text = summary, text
  local code = classify(result)
  if result.commit_error then
    log().error(tostring(result.commit_error))
    code = require("imapsift.cli").worst(code, 1)
  end
  if o.check then
    code = require("imapsift.cli").worst(code, result.check_code)
  end
  local elapsed = require("imapsift.core").monotonic() - started
  local nerr = #result.rule_errors + (result.script_error and 1 or 0)
  if o.plan_file then
    local wok, werr = log().write_plan(o.plan_file, result.entries, summary)
    if not wok then log().error(tostring(werr)); code =
      require("imapsift.cli").worst(code, 1) end
  end
  if not o.check then
    log().summary(totals(plan.is_dry(), elapsed, nerr))
  end
  result.code = code
  return code, result
end

return M
