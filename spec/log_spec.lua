-- Specs for lua/imapsift/log.lua: levels, text and JSON lines on stderr
-- and in the log file, the plan's lines, the summary, the progress
-- line, trace files and the JSON plan.

local log = require "imapsift.log"
local plan = require "imapsift.plan"
local connection = require "imapsift.connection"
local cjson = require "cjson"
local util = require "spec.support.util"

local function lines_of(s)
  local out = {}
  for l in (s or ""):gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

describe("imapsift.log", function()
  local err_out, std_out, tmp
  local function setup(o)
    o.stderr = function(s) err_out[#err_out + 1] = s end
    o.stdout = function(s) std_out[#std_out + 1] = s end
    log.setup(o)
  end
  local function stderr_lines() return lines_of(table.concat(err_out)) end
  local function stdout_lines() return lines_of(table.concat(std_out)) end

  before_each(function()
    err_out, std_out = {}, {}
    tmp = os.tmpname()
    os.remove(tmp)
    plan.reset()
    plan.dry_run(false)
  end)
  after_each(function()
    log.reset()
    plan.reset()
    plan.dry_run(false)
    plan.verbose(false)
    os.remove(tmp)
  end)

  it("writes a line when its level is at most the configured one", function()
    setup{ level = 0 }
    log.error("e")
    log.warn("w")
    log.info("i")
    log.verbose("v")
    log.debug("d")
    assert.same({ "imapsift: e", "imapsift: w", "imapsift: i" },
      stderr_lines())
    err_out = {}
    setup{ level = -1 }
    log.warn("w")
    log.info("i")
    log.error("e")
    assert.same({ "imapsift: e" }, stderr_lines())
    err_out = {}
    setup{ level = 2 }
    log.verbose("v")
    log.debug("d")
    assert.same({ "imapsift: v", "imapsift: d" }, stderr_lines())
  end)

  it("writes at a level named by the caller", function()
    setup{ level = 0 }
    log.at("verbose", "v")
    log.at("warn", "w")
    log.at("odd", "o")
    assert.same({ "imapsift: w", "imapsift: o" }, stderr_lines())
  end)

  it("escapes control bytes a server may put in its text", function()
    setup{}
    log.info("NO \27[31mred\r\n")
    assert.same({ "imapsift: NO \\x1b[31mred\\x0d\\x0a" }, stderr_lines())
  end)

  it("appends time-stamped lines to the log file, created 0600", function()
    util.write_file(tmp, "earlier\n")
    setup{ file = tmp, level = 0 }
    log.info("hello")
    log.debug("hidden")
    local text = util.read_file(tmp)
    local l = lines_of(text)
    assert.equal("earlier", l[1])
    assert.match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ INFO hello$",
      l[2])
    assert.equal(2, #l)
    log.reset()
    os.remove(tmp)
    setup{ file = tmp }
    log.warn("new")
    assert.match("WARN new\n$", util.read_file(tmp))
    if require("imapsift.core").write_file_atomic then
      local p = io.popen("stat -c %a " .. tmp)
      assert.equal("600", p:read("l"))
      p:close()
    end
  end)

  it("closes the old file when set up again", function()
    local other = os.tmpname()
    setup{ file = tmp }
    log.info("one")
    setup{ file = other }
    log.info("two")
    assert.match("one", util.read_file(tmp))
    assert.no.match("two", util.read_file(tmp))
    assert.match("two", util.read_file(other))
    os.remove(other)
  end)

  it("writes JSON objects with the fields given", function()
    setup{ format = "json", file = tmp }
    log.error("cannot log in", { event = "login", account = "me" })
    local obj = cjson.decode(stderr_lines()[1])
    assert.equal("error", obj.level)
    assert.equal("cannot log in", obj.msg)
    assert.equal("login", obj.event)
    assert.equal("me", obj.account)
    assert.match("Z$", obj.time)
    assert.same(obj, cjson.decode(lines_of(util.read_file(tmp))[1]))
  end)

  it("keeps JSON lines valid UTF-8 whatever bytes the text holds", function()
    setup{ format = "json" }
    log.warn("bad \255 byte", { mailbox = "x\0y" })
    local obj = cjson.decode(stderr_lines()[1])
    assert.equal("bad \\xff byte", obj.msg)
    assert.equal("x\\x00y", obj.mailbox)
  end)

  it("is plan.log: action lines with the entry's fields in JSON", function()
    setup{ format = "json" }
    plan.rule("news", function()
      plan.record{ account = "me", mailbox = "INBOX", action = "move",
        destination = "Archive", uids = { 1, 2, 3, 7 },
        message_ids = { "<a@x>" } }
    end)
    local obj = cjson.decode(stderr_lines()[1])
    assert.equal("action", obj.event)
    assert.equal("info", obj.level)
    assert.equal("news", obj.rule)
    assert.equal("move", obj.action)
    assert.equal("Archive", obj.destination)
    assert.equal(4, obj.count)
    assert.equal("1:3,7", obj.uids)
    assert.is_false(obj.dry)
    assert.is_nil(obj.message_ids)
    assert.match("%[news%] me: moved 4 messages INBOX %-> Archive", obj.msg)
    -- the recorded entry itself is not changed by the log
    assert.is_nil(plan.entries()[1].event)
  end)

  it("lists Message-IDs from level 1 on", function()
    setup{ level = 1, format = "json" }
    assert.is_true(plan.is_verbose())
    plan.record{ account = "me", mailbox = "INBOX", action = "delete",
      uids = { 5 }, message_ids = { "<a@x>" } }
    local obj = cjson.decode(stderr_lines()[1])
    assert.same({ "<a@x>" }, obj.message_ids)
    assert.match("<a@x>", obj.msg)
    setup{ level = 0 }
    assert.is_false(plan.is_verbose())
  end)

  it("logs warnings and rule errors with their rule", function()
    setup{ format = "json", level = -1 }
    plan.rule("r1", function() plan.warn("no UIDPLUS") end)
    plan.rule("r2", function()
      error(setmetatable({ kind = "no", text = "nope", account = "acc" },
        require("imapsift.error").Error))
    end)
    local l = stderr_lines()
    assert.equal(1, #l) -- the warning is below level -1
    local obj = cjson.decode(l[1])
    assert.equal("rule_error", obj.event)
    assert.equal("r2", obj.rule)
    assert.equal("acc", obj.account)
    assert.match("nope", obj.error)
    err_out = {}
    setup{}
    plan.rule("r1", function() plan.warn("no UIDPLUS") end)
    assert.same({ "imapsift: [r1] warning: no UIDPLUS" }, stderr_lines())
  end)

  it("prints the plan on stdout in a dry run, and in the file", function()
    plan.dry_run(true)
    setup{ plan_to_stdout = true, file = tmp }
    plan.record{ account = "me", mailbox = "INBOX", action = "move",
      destination = "Old", uids = { 9 } }
    plan.warn("careful")
    assert.same({ "me: would move 1 message INBOX -> Old (uids 9)" },
      stdout_lines())
    assert.same({ "imapsift: warning: careful" }, stderr_lines())
    local f = lines_of(util.read_file(tmp))
    assert.match("INFO me: would move 1 message", f[1])
    assert.match("WARN warning: careful", f[2])
  end)

  it("ends a run with the summary line", function()
    setup{}
    log.summary{ examined = 10, moved = 2, copied = 1, deleted = 0,
      flagged = 3, errors = 1, seconds = 1.25 }
    assert.same({ "imapsift: run finished: 10 examined, 2 moved, 1 copied, "
      .. "0 deleted, 3 flagged, 1 errors in 1.2 s" }, stderr_lines())
    err_out = {}
    setup{ format = "json", level = -1 }
    log.summary{ examined = 1, seconds = 0 }
    assert.same({}, stderr_lines())
    setup{ format = "json" }
    log.summary{ examined = 1, seconds = 2.34567, dry = true }
    local obj = cjson.decode(stderr_lines()[1])
    assert.equal(2.346, obj.seconds)
    assert.equal("summary", obj.event)
    assert.equal(1, obj.examined)
    assert.equal(0, obj.moved)
    assert.is_true(obj.dry)
  end)

  describe("progress", function()
    local shown, t
    local function psetup(o)
      shown, t = {}, 100
      o.progress_writer = function(s) shown[#shown + 1] = s end
      o.clock = function() return t end
      if o.tty == nil then o.tty = true end
      setup(o)
    end

    it("redraws at most four times a second and clears at the end",
      function()
        psetup{}
        log.progress("UID FETCH", 1, 10)
        t = t + 0.1
        log.progress("UID FETCH", 2, 10)
        t = t + 0.2
        log.progress("UID FETCH", 3, 10)
        log.progress("UID FETCH", 10, 10)
        assert.same({ "\rUID FETCH: 1/10\27[K", "\rUID FETCH: 3/10\27[K",
          "\r\27[K" }, shown)
      end)

    it("is silent off a terminal and when quiet", function()
      psetup{ tty = false }
      log.progress("x", 1, 3)
      psetup{ level = -1 }
      log.progress("x", 1, 3)
      assert.same({}, shown)
    end)

    it("is cleared before a log line takes its place", function()
      psetup{}
      err_out = {}
      log.progress("x", 1, 3)
      log.info("line")
      assert.same({ "\rx: 1/3\27[K", "\r\27[K" }, shown)
      assert.same({ "imapsift: line" }, stderr_lines())
    end)

    it("is the connection's progress hook while set up", function()
      psetup{}
      assert.equal(log.progress, connection.on_progress)
      log.reset()
      assert.is_nil(connection.on_progress)
    end)
  end)

  it("writes trace files with a time, the direction and escaped lines",
    function()
      local w = log.trace_writer(tmp)
      w("C", "A1 LOGIN me ***")
      w("S", "* OK \27]0;x\7")
      local l = lines_of(util.read_file(tmp))
      assert.match("^%d%d%d%d%-.-Z C: A1 LOGIN me %*%*%*$", l[1])
      assert.match("Z S: %* OK \\x1b%]0;x\\x07$", l[2])
      local p = io.popen("stat -c %a " .. tmp)
      assert.equal("600", p:read("l"))
      p:close()
    end)

  it("writes the plan as JSON, empty arrays as arrays", function()
    plan.dry_run(true)
    log.write_plan(tmp, {
      { account = "me", mailbox = "INBOX", action = "move",
        destination = "Old", uids = { 1, 2 }, count = 2, dry = true,
        rule = "r" },
      { account = "me", mailbox = "INBOX", action = "flag", uids = {},
        count = 0, flags = { "\\Seen" } },
    }, { { rule = "r", examined = 3, moved = 2 } })
    local text = util.read_file(tmp)
    local doc = cjson.decode(text)
    assert.is_true(doc.dry_run)
    assert.same({ 1, 2 }, doc.entries[1].uids)
    assert.equal("Old", doc.entries[1].destination)
    assert.same({ "\\Seen" }, doc.entries[2].flags)
    assert.match('"uids":%[%]', text)
    assert.equal(3, doc.summary[1].examined)
    log.write_plan(tmp, {}, {})
    text = util.read_file(tmp)
    assert.match('"entries":%[%]', text)
    assert.match('"summary":%[%]', text)
  end)

  it("reports a plan or log file it cannot write as an io error", function()
    local e = util.catch(log.write_plan, "/nonexistent-dir/plan.json", {}, {})
    assert.equal("io", e.kind)
    assert.match("/nonexistent%-dir/plan.json", tostring(e))
    e = util.catch(log.setup, { file = "/nonexistent-dir/log" })
    assert.equal("io", e.kind)
    e = util.catch(log.setup, { level = 3 })
    assert.equal("usage", e.kind)
    e = util.catch(log.setup, { format = "xml" })
    assert.equal("usage", e.kind)
  end)
end)
