-- spec/state_spec.lua: Mailbox:new() against the private Dovecot: the
-- first run sees every message, a run over an unchanged mailbox sends no
-- search, new mail is exactly what arrived, a failed rule or a dry run
-- leaves nothing recorded, and a new UIDVALIDITY makes everything new.
local server = require "support.server"
local util = require "support.util"
local state = require "imapsift.state"
local plan = require "imapsift.plan"
local lfs = require "lfs"
local sh = require "support.state_helpers"

server.as(9) -- this file's own user

local BOX = "StateNew"
local fx = sh.box(BOX, "kim-state")
-- fresh(n), append(n): BOX as the run finds it; run(fn) -> the tagged
-- commands one run sent (tags dropped).
local fresh, append, run = fx.fresh, fx.append, fx.run

local function searches(sent) return util.count(sent, "UID SEARCH") end

describe("Mailbox:new() on Dovecot", function()
  local sb, dir, lines

  before_each(function()
    sb = util.state_sandbox(state, plan)
    dir, lines = sb.dir, sb.lines
  end)

  after_each(function() util.state_restore(sb, state, plan) end)

  teardown(fx.drop)

  it("gives every message the first time, then none while unchanged, " ..
    "then exactly the new ones", function()
    local uids = fresh(3)
    local got
    run(function(mb) got = mb:new():uids() end)
    assert.same(uids, got)
    local p = state.pending()
    assert.equal(1, #p)
    assert.same({ "kim-state", BOX, uids[3] },
      { p[1].account, p[1].mailbox, p[1].last_uid })
    assert.equal(1, state.commit())
    assert.equal(3, plan.summary()[1].examined)

    local sent = run(function(mb) got = mb:new():uids() end)
    assert.same({}, got)
    assert.equal(0, searches(sent))
    assert.equal(0, util.count(sent, "SELECT"))
    assert.equal(1, util.count(sent, "STATUS"))
    state.commit()

    local more = append(2)
    sent = run(function(mb) got = mb:new():uids() end)
    assert.same(more, got)
    assert.equal(1, searches(sent))
    assert.equal(1, util.count(sent, "UID SEARCH .*UID " .. uids[3] + 1 ..
      ":%*"))
    state.commit()
    assert.equal(more[2], state.read("kim-state", BOX).last_uid)
  end)

  it("does not count the highest old UID that n:* always matches",
    function()
    local uids = fresh(2)
    run(function(mb) mb:new() end)
    state.commit()
    -- A message that came and went: UIDNEXT moved, nothing is new.
    fx.expunge(append(1))
    local got
    local sent = run(function(mb) got = mb:new():uids() end)
    assert.equal(1, searches(sent))
    assert.same({}, got)
    assert.equal(uids[2], state.pending()[1].last_uid)
  end)

  it("drops what a failed rule would have recorded", function()
    local uids = fresh(2)
    local got
    run(function(mb)
      local ok = plan.rule("fails", function()
        got = mb:new():uids()
        error("rule broke")
      end)
      assert.is_false(ok)
    end)
    assert.same(uids, got)
    assert.same({}, state.pending())
    assert.equal(0, state.commit())
    run(function(mb) got = mb:new():uids() end)
    assert.same(uids, got)
  end)

  it("gives every look in one run the same window; later mail is for " ..
    "the next run", function()
    local uids = fresh(2)
    run(function(mb) mb:new() end)
    state.commit()
    local window = append(2)
    local first, second, third, late
    local sent = run(function(mb)
      first = mb:new():uids()
      late = append(1)
      second = mb:new():uids()
      -- a rule moved one away (here on the run's own connection)
      local c = mb.account:conn()
      c:store({ window[1] }, "+FLAGS", { "\\Deleted" })
      c:expunge()
      third = mb:new():uids()
    end)
    assert.same(window, first)
    assert.same(window, second)
    assert.same({ window[2] }, third)
    assert.equal(1, util.count(sent, ("UID SEARCH .*UID %d:%%*$")
      :format(uids[2] + 1)))
    assert.equal(2, util.count(sent, ("UID SEARCH .*UID %d:%d$")
      :format(uids[2] + 1, window[2])))
    assert.equal(1, #state.pending())
    assert.equal(window[2], state.pending()[1].last_uid)
    state.commit()
    local got
    run(function(mb) got = mb:new():uids() end)
    assert.same(late, got)
  end)

  it("records nothing for a mailbox after a rule that looked at it failed",
    function()
    local uids = fresh(2)
    local got
    run(function(mb)
      plan.rule("fails", function() mb:new(); error("rule broke") end)
      plan.rule("works", function() got = mb:new():uids() end)
    end)
    assert.same(uids, got)
    assert.same({}, state.pending())
  end)

  it("writes no file in a dry run (and only examines)", function()
    local uids = fresh(2)
    plan.dry_run(true)
    local got
    local sent = run(function(mb) got = mb:new():uids() end)
    assert.same(uids, got)
    assert.equal(0, util.count(sent, "^SELECT "))
    assert.equal(1, util.count(sent, "^EXAMINE "))
    assert.equal(0, state.commit())
    assert.is_nil(lfs.attributes(dir))
  end)

  it("counts every message as new when UIDVALIDITY changed, with a " ..
    "warning", function()
    fresh(2)
    run(function(mb) mb:new() end)
    state.commit()
    local old = state.read("kim-state", BOX).uidvalidity
    local uids = fresh(3)
    local got
    run(function(mb) got = mb:new():uids() end)
    assert.same(uids, got)
    local new = state.pending()[1].uidvalidity
    assert.are_not.equal(old, new)
    assert.equal(1, util.count(lines, util.lit(("warning: kim-state: %s: " ..
      "UIDVALIDITY changed from %d to %d; every message counts as new")
      :format(BOX, old, new))))
  end)

  it("searches nothing in an empty mailbox", function()
    fresh(0)
    local got
    local sent = run(function(mb) got = mb:new():uids() end)
    assert.same({}, got)
    assert.equal(0, searches(sent))
    assert.equal(0, state.pending()[1].last_uid)
  end)
end)
