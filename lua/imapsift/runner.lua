-- imapsift.runner: one run of a rules script: compile it (and the -e
-- chunks), reset the per-run records, run it in a fresh environment,
-- log the accounts out, commit the state, write the plan, log the
-- summary and work out the exit code. --check's checks live here too.

local core = require "imapsift.core"
local errors = require "imapsift.error"
local cli = require "imapsift.cli"
local plan = require "imapsift.plan"
local account = require "imapsift.account"
local log = require "imapsift.log"
local state = require "imapsift.state"
local watch = require "imapsift.watch"

local M = {}

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
    -- A #! line is dropped, its newline kept so line numbers hold.
    text = text:gsub("^#![^\n]*", "")
    local _, cerr = compile(text, "@" .. o.script)
    if cerr then return nil, cerr end
    prog.text = text
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
  watch.reset()
  state.discard()
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
  local name = errors.escape(acct.name)
  local ok, names = pcall(function()
    acct:conn()
    return acct:list()
  end)
  if not ok then
    out[#out + 1] = ("account %s: %s"):format(name,
      errors.escape(tostring(names)))
    return cli.classify(names)
  end
  out[#out + 1] = ("account %s: ok"):format(name)
  local have, code = {}, 0
  for _, n in ipairs(names) do have[n] = true end
  for _, mb in ipairs(named(acct, destinations(acct.name))) do
    local box = errors.escape(mb.name)
    local exists = have[mb.name] or is_inbox(mb.name)
    if not exists and mb.dest and acct.create then
      out[#out + 1] = ("mailbox %s on %s: will be created"):format(box, name)
    elseif not exists then
      out[#out + 1] = ("missing mailbox %s on %s"):format(box, name)
      code = 1
    end
  end
  return code
end

-- check() -> exit code, lines: the --check report of the run just done.
function M.check()
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
    log.error(first, { event = "script_error", traceback = rest })
    return
  end
  log.error(first, { event = "script_error" })
  for line in rest:gmatch("[^\n]+") do
    log.error((line:gsub("\t", "  ")), { event = "script_error" })
  end
end

-- After the script: check (--check), log out, commit the state.
local function finish_run(o, result)
  if o.check then
    result.check_code, result.check_lines = M.check()
  end
  -- Queued flag changes first: their errors count for the rules that
  -- asked, and for the state committed below.
  local ok, err = pcall(require("imapsift").finish)
  if not ok then
    log.warn("logging out: " .. tostring(err))
  end
  if not (o.dry or o.check) and not result.script_error then
    local sok, serr = pcall(state.commit)
    if not sok then result.commit_error = serr end
  end
end

-- The --plan file and the summary line, at the end of a run.
local function write_out(o, result, elapsed)
  if o.plan_file then
    local ok, err = pcall(log.write_plan, o.plan_file, result.entries,
      result.summary)
    if not ok then
      log.error(tostring(err))
      result.code = cli.worst(result.code, cli.EXIT.script)
    end
  end
  -- A script that used no account and ran no rule (a plain Lua script)
  -- gets no summary: its output is all its own.
  local idle = #account.all() == 0 and #result.summary == 0 and
    not result.script_error
  if not (o.check or idle) then
    local nerr = #result.rule_errors + (result.script_error and 1 or 0)
    log.summary(totals(plan.is_dry(), elapsed, nerr))
  end
end

-- run_once(o, prog) -> exit code, result. o: cli.parse's options;
-- prog: M.load's program. result: { code, script_error = { err, text },
-- rule_errors = plan.errors(), entries, summary, summary_text,
-- check_lines }.
function M.run_once(o, prog)
  local started = core.monotonic()
  reset(o)
  local result = { script_error = execute(prog) }
  if result.script_error then report_script_error(result.script_error, o) end
  finish_run(o, result)
  result.rule_errors, result.entries = plan.errors(), plan.entries()
  result.summary, result.summary_text = plan.summary()
  result.code = classify(result)
  if result.commit_error then
    log.error(tostring(result.commit_error))
    result.code = cli.worst(result.code, cli.EXIT.script)
  end
  if o.check then result.code = cli.worst(result.code, result.check_code) end
  write_out(o, result, core.monotonic() - started)
  return result.code, result
end

return M
