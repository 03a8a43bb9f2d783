-- Specs for lua/imapsift/plan.lua: the dry-run switch, recorded entries
-- and their log lines, named rules and the summary.

local plan = require "imapsift.plan"

describe("imapsift.plan", function()
  local lines, saved_log
  before_each(function()
    saved_log = plan.log
    lines = {}
    plan.log = function(line) lines[#lines + 1] = line end
    plan.reset()
    plan.dry_run(false)
    plan.verbose(false)
  end)
  after_each(function()
    plan.log = saved_log
    plan.dry_run(false)
    plan.verbose(false)
    plan.reset()
  end)

  it("switches dry run on and off", function()
    assert.is_false(plan.is_dry())
    assert.is_true(plan.dry_run(true))
    assert.is_true(plan.is_dry())
    assert.is_true(plan.dry_run())
    plan.dry_run(false)
    assert.is_false(plan.is_dry())
  end)

  it("shows the first UIDs of a big action in its line, all in the entry",
      function()
    local uids = {}
    for i = 1, 5000 do uids[i] = i * 2 end
    plan.record{ account = "me@host", mailbox = "INBOX", action = "flag",
      flags = { "\\Flagged" }, uids = uids }
    local line = lines[#lines]
    local shown = line:match("%(uids ([^)]*)%)")
    assert.truthy(shown)
    assert.is_true(#shown <= plan.UID_TEXT_MAX + 4)
    assert.truthy(shown:find("^2,4,6,8,"))
    assert.truthy(shown:find(",%d+,%.%.%.$"))
    assert.truthy(line:find("5000 messages", 1, true))
    assert.are.equal(5000, #plan.entries()[1].uids)
  end)

  it("records a planned move and logs the line a user reads", function()
    plan.dry_run(true)
    local uids = { 3, 4, 5, 6, 7, 8, 9, 14, 20, 21, 22, 23 }
    plan.record{ account = "me@host", mailbox = "INBOX", action = "move",
      destination = "Archive/news", uids = uids }
    local e = plan.entries()
    assert.are.equal(1, #e)
    assert.are.equal(12, e[1].count)
    assert.is_true(e[1].dry)
    assert.are.equal("me@host: would move 12 messages INBOX -> " ..
      "Archive/news (uids 3:9,14,20:23)", lines[1])
  end)

  it("says what was done in a real run", function()
    plan.record{ account = "a", mailbox = "INBOX", action = "flag",
      flags = { "\\Flagged" }, uids = { 1 } }
    plan.record{ account = "a", mailbox = "INBOX", action = "delete",
      uids = { 2, 3 } }
    assert.are.equal("a: flagged 1 message INBOX \\Flagged (uids 1)",
      lines[1])
    assert.are.equal("a: deleted 2 messages INBOX (uids 2:3)", lines[2])
    assert.is_false(plan.entries()[1].dry)
  end)

  it("names the other account of a cross-account move", function()
    plan.record{ account = "a", mailbox = "INBOX", action = "move",
      destination = "Big", destination_account = "b", uids = { 5 } }
    assert.are.equal("a: moved 1 message INBOX -> b:Big (uids 5)", lines[1])
  end)

  it("lists Message-IDs only when verbose", function()
    local e = { account = "a", mailbox = "INBOX", action = "copy",
      destination = "X", uids = { 1 }, message_ids = { "<m1@x>" } }
    plan.record(e)
    assert.is_nil(lines[1]:find("<m1@x>", 1, true))
    plan.verbose(true)
    plan.record{ account = "a", mailbox = "INBOX", action = "copy",
      destination = "X", uids = { 1 }, message_ids = { "<m1@x>" } }
    assert.truthy(lines[2]:find("[<m1@x>]", 1, true))
  end)

  it("escapes control characters a mailbox name could carry", function()
    plan.record{ account = "a", mailbox = "IN\27[2JBOX", action = "delete",
      uids = { 1 } }
    assert.is_nil(lines[1]:find("\27", 1, true))
  end)

  it("puts the rule's name in entries and log lines", function()
    assert.is_true(plan.rule("news", function()
      assert.are.equal("news", plan.current())
      plan.record{ account = "a", mailbox = "INBOX", action = "move",
        destination = "News", uids = { 1, 2 } }
    end))
    assert.is_nil(plan.current())
    assert.are.equal("news", plan.entries()[1].rule)
    assert.are.equal("[news] a: moved 2 messages INBOX -> News (uids 1:2)",
      lines[1])
  end)

  it("isolates a failing rule: logged by name, the next one runs",
    function()
    local ok, err = plan.rule("broken", function() error("boom", 0) end)
    assert.is_false(ok)
    assert.are.equal("boom", err)
    assert.are.equal("[broken] error: boom", lines[1])
    local ran = false
    plan.rule("next", function() ran = true end)
    assert.is_true(ran)
  end)

  it("counts per rule in the summary, in the order rules ran", function()
    plan.rule("one", function()
      plan.count("examined", 10)
      plan.record{ account = "a", mailbox = "INBOX", action = "move",
        destination = "X", uids = { 1, 2, 3 } }
      plan.record{ account = "a", mailbox = "INBOX", action = "unflag",
        flags = { "\\Seen" }, uids = { 4 } }
    end)
    plan.rule("two", function()
      plan.record{ account = "a", mailbox = "INBOX", action = "copy",
        destination = "Y", uids = { 5 } }
      error("late failure")
    end)
    local s, text = plan.summary()
    assert.are.equal(2, #s)
    assert.are.same({ rule = "one", examined = 10, moved = 3, copied = 0,
      deleted = 0, flagged = 1, errors = 0 }, s[1])
    assert.are.same({ rule = "two", examined = 0, moved = 0, copied = 1,
      deleted = 0, flagged = 0, errors = 1 }, s[2])
    assert.truthy(text:find("one: 10 examined, 3 moved, 0 copied, " ..
      "0 deleted, 1 flagged, 0 errors", 1, true))
  end)

  it("refuses a rule without a name or a function", function()
    local ok, err = pcall(plan.rule, nil, function() end)
    assert.is_false(ok)
    assert.are.equal("usage", err.kind)
    ok, err = pcall(plan.rule, "x", 42)
    assert.is_false(ok)
    assert.are.equal("usage", err.kind)
  end)

  it("guards a connection while dry and lets go after", function()
    local conn = {}
    plan.dry_run(true)
    plan.guard(conn)
    assert.is_function(conn.intercept)
    assert.is_true(conn.intercept{ command = "UID STORE", what = "STORE" })
    plan.dry_run(false)
    plan.guard(conn)
    assert.is_nil(conn.intercept)
    local mine = function() end
    conn.intercept = mine
    plan.guard(conn)
    assert.are.equal(mine, conn.intercept)
  end)
end)
