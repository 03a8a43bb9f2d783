-- Specs for imapsift.runner in-process: one run of a small script
-- against the private Dovecot (spare user 13) and a closed port: rules
-- of two accounts kept apart, exit codes, the state committed only after
-- a run that did not raise, plan entries, --check's report, stopping.
local server = require "support.server"
local runner = require "imapsift.runner"
local log = require "imapsift.log"
local plan = require "imapsift.plan"
local state = require "imapsift.state"
local account = require "imapsift.account"
local core = require "imapsift.core"

local USER = server.as(13)
local PASSWORD = server.password

-- A port where nothing listens: bind one, close it.
local CLOSED = 1

local stderr
local function setup_log()
  stderr = {}
  log.setup{ level = 0, stderr = function(s) stderr[#stderr + 1] = s end,
    stdout = function(s) stderr[#stderr + 1] = "stdout: " .. s end }
end
local function logged() return table.concat(stderr) end

-- The connect options as Lua source, for a script's account{...}.
local function acct_src(name, extra)
  local o = server.opts{ name = name }
  for k, v in pairs(extra or {}) do
    if v == server.UNSET then o[k] = nil else o[k] = v end
  end
  local parts = {}
  for k, v in pairs(o) do
    parts[#parts + 1] = ("%s = %s"):format(k, type(v) == "boolean" and
      tostring(v) or ("%q"):format(v))
  end
  return "imapsift.account{ " .. table.concat(parts, ", ") .. " }"
end

local function script_file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write('local imapsift = require "imapsift"\n', text)
  f:close()
  return path
end

-- run(text, o) -> code, result of one run of text as a script.
local function run(text, o)
  o = o or {}
  o.script = script_file(text)
  o.args = o.args or {}
  local prog, err = runner.load(o)
  os.remove(o.script)
  assert(prog, tostring(err))
  return runner.run_once(o, prog)
end

local statedir

setup(function()
  statedir = os.tmpname()
  os.remove(statedir)
  state.set_dir(statedir)
end)

teardown(function()
  state.set_dir(nil)
  os.execute(("rm -rf %q"):format(statedir))
  log.reset()
  plan.dry_run(false)
  plan.should_stop = function() return false end
end)

before_each(function()
  setup_log()
  server.reset()
  plan.should_stop = function() return false end
  local imap = server.connect()
  imap:create("Keep")
  server.append(imap, "INBOX", { { subject = "one" }, { subject = "two" } })
  imap:logout()
end)

local function count(name)
  local imap = server.connect()
  local n = imap:examine(name).exists
  imap:logout()
  return n
end

describe("runner.run_once", function()
  it("keeps a failing account's rules apart from a working one's", function()
    local code, result = run(([[
      local a = %s
      local b = %s
      imapsift.rule("b first", function() b.INBOX:select_all():move_to("X") end)
      imapsift.rule("a", function() a.INBOX:select_all():move_to("Keep") end)
      imapsift.rule("b again", function() local _ = #b.INBOX:select_all() end)
      imapsift.rule("b waits", function() b.Other:select_all() end)
      imapsift.rule("a again", function() a.Keep:select_all() end)
    ]]):format(acct_src("a"), acct_src("b", { host = "127.0.0.1",
      port = CLOSED })))
    assert.equal(3, code)
    assert.equal(0, count("INBOX"))
    assert.equal(2, count("Keep"))
    assert.equal(1, #result.entries)
    assert.equal("move", result.entries[1].action)
    local failed = account.failures()
    assert.equal(1, #failed)
    assert.equal("b", failed[1].account)
    local names = {}
    for i, e in ipairs(result.rule_errors) do names[i] = e.rule .. ": " .. tostring(e.error) end
    assert.equal(2, #result.rule_errors, table.concat(names, "\n"))
    -- The second rule of b got the same error, at once.
    assert.equal(result.rule_errors[1].error, result.rule_errors[2].error)
    assert.matches("%[b first%] error: connect", logged())
    assert.matches("run finished: 4 examined, 2 moved", logged())
  end)

  it("tells account.on_event of connecting and logging out", function()
    local events = {}
    account.on_event = function(name, what)
      events[#events + 1] = name .. " " .. what
    end
    local code = run(("local a = %s\na:conn()"):format(acct_src("ev")))
    account.on_event = nil
    assert.equal(0, code)
    assert.same({ "ev connected", "ev logged out" }, events)
  end)

  it("loads: a compile error is a message, a missing file a usage error, #! is dropped",
      function()
    local path = script_file("this is not lua")
    local prog, err = runner.load{ script = path }
    assert.is_nil(prog)
    assert.matches("syntax error", err)
    prog, err = runner.load{ script = path .. ".none" }
    assert.is_nil(prog)
    assert.equal("usage", err.kind)
    local f = assert(io.open(path, "w"))
    f:write("#!/usr/bin/env imapsift\nerror('on line two')\n")
    f:close()
    prog = assert(runner.load{ script = path })
    os.remove(path)
    local code, result = runner.run_once({}, prog)
    assert.equal(1, code)
    assert.matches(":2: on line two", result.script_error.text)
  end)

  it("gives 1 for a script error, with the message and a traceback", function()
    local code, result = run([[
      local function inner() error("rule script broke") end
      inner()
    ]])
    assert.equal(1, code)
    assert.truthy(result.script_error)
    assert.matches("rule script broke", logged())
    assert.matches("stack traceback", logged())
  end)

  it("gives 2 for a usage error and 4 for a TLS failure", function()
    assert.equal(2, (run([[
      require("imapsift.error").usage("test", "bad setting")
    ]])))
    local code = run(([[
      local a = %s
      a:conn()
    ]]):format(acct_src("t", { ca_file = server.UNSET,
      ca_path = "/nonexistent" })))
    assert.equal(4, code)
  end)

  it("runs -e chunks and the script in a fresh environment with arg and ...",
      function()
    local code = run([[
      assert(leftover == nil, "a global survived the previous run")
      leftover = true
      assert(from_chunk == 42)
      assert(arg[1] == "x" and arg[2] == "y" and select("#", ...) == 2)
    ]], { chunks = { "from_chunk = 42" }, args = { "x", "y" } })
    assert.equal(0, code)
    code = run("assert(leftover == nil)")
    assert.equal(0, code)
    assert.is_nil(rawget(_G, "leftover"))
  end)

  it("commits the state only after a run that did not raise", function()
    local text = ([[
      local a = %s
      imapsift.rule("new", function() a.INBOX:new() end)
      if arg[1] == "fail" then error("late failure") end
    ]]):format(acct_src("st"))
    assert.equal(1, (run(text, { args = { "fail" } })))
    assert.is_nil(state.read("st", "INBOX"))
    assert.equal(0, (run(text, { dry = true })))
    assert.is_nil(state.read("st", "INBOX"))
    assert.equal(0, (run(text)))
    assert.truthy(state.read("st", "INBOX"))
  end)

  it("plans in a dry run: entries, summary text, nothing moved", function()
    local code, result = run(([[
      local a = %s
      imapsift.rule("file", function() a.INBOX:select_all():move_to("Keep") end)
    ]]):format(acct_src("d")), { dry = true })
    assert.equal(0, code)
    assert.equal(1, #result.entries)
    assert.is_true(result.entries[1].dry)
    assert.matches("^file: 2 examined, 2 moved.*dry run", result.summary_text)
    assert.equal(2, count("INBOX"))
  end)

  it("writes the plan file as JSON", function()
    local path = os.tmpname()
    local code = run(([[
      local a = %s
      imapsift.rule("file", function() a.INBOX:select_all():move_to("Keep") end)
    ]]):format(acct_src("p")), { dry = true, plan_file = path })
    assert.equal(0, code)
    local doc = require("cjson").decode(assert(io.open(path)):read("a"))
    os.remove(path)
    assert.is_true(doc.dry_run)
    assert.equal("Keep", doc.entries[1].destination)
  end)

  it("--check: logs in, lists missing mailboxes, changes nothing", function()
    local code, result = run(([[
      local a = %s
      local c = %s
      local d = %s
      imapsift.rule("r", function()
        local _ = a.Nowhere
        c.INBOX:select_all():move_to("Made/Later")
        a.INBOX:select_all():move_to("Missing/Dest")
      end)
      d:conn()
    ]]):format(acct_src("a"), acct_src("c", { create = true }),
      acct_src("d", { host = "127.0.0.1", port = CLOSED })),
      { check = true })
    assert.equal(3, code)
    local lines = table.concat(result.check_lines, "\n")
    assert.matches("account a: ok", lines, 1, true)
    assert.matches("missing mailbox Missing/Dest on a", lines, 1, true)
    assert.matches("missing mailbox Nowhere on a", lines, 1, true)
    assert.matches("account c: ok", lines, 1, true)
    assert.matches("mailbox Made/Later on c: will be created", lines, 1, true)
    assert.matches("account d: .*connect", lines)
    assert.equal(2, count("INBOX"))
  end)

  it("--check: 1 when only a mailbox is missing, 0 when all is well", function()
    local text = ([[
      local a = %s
      local _ = a[arg[1] ]
    ]]):format(acct_src("a"))
    assert.equal(1, (run(text, { check = true, args = { "Nope" } })))
    assert.equal(0, (run(text, { check = true, args = { "Keep" } })))
  end)

  it("skips rules and refuses actions once stopping, and exits 0", function()
    local code, result = run(([[
      local a = %s
      imapsift.rule("first", function()
        local set = a.INBOX:select_all()
        stop_now()
        set:move_to("Keep")
      end)
      imapsift.rule("second", function() error("must not run") end)
    ]]):format(acct_src("s")), { chunks = { "stop_now = function() " ..
      "require('imapsift.plan').should_stop = function() return true end " ..
      "end" } })
    assert.equal(0, code)
    assert.equal(0, #result.entries)
    assert.equal(2, count("INBOX"))
    assert.matches("%[second%] skipped: stopping", logged())
  end)

  it("gives 2 for a missing password when there is no terminal", function()
    local isatty = core.isatty
    core.isatty = function() return false end
    local ok, code = pcall(run, ("local a = %s\na:conn()"):format(
      acct_src("nopw", { password = server.UNSET })))
    core.isatty = isatty
    assert.is_true(ok, tostring(code))
    assert.equal(2, code)
    assert.matches("user given without password", logged())
  end)

  it("asks for a missing password once on a terminal, and never logs it",
      function()
    local isatty, getpass = core.isatty, core.getpass
    local prompts = {}
    core.isatty = function() return true end
    core.getpass = function(p) prompts[#prompts + 1] = p; return PASSWORD end
    local text = ([[
      local a = %s
      a:conn()
    ]]):format(acct_src("pw", { password = server.UNSET }))
    local ok, c1 = pcall(run, text)
    local ok2, c2 = pcall(run, text)
    core.isatty, core.getpass = isatty, getpass
    assert.is_true(ok and ok2, tostring(c1) .. tostring(c2))
    assert.equal(0, c1)
    assert.equal(0, c2)
    assert.same({ ("Password for %s@%s: "):format(USER, server.host) },
      prompts)
    assert.is_nil(logged():find(PASSWORD, 1, true))
  end)
end)
