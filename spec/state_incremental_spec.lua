-- spec/state_incremental_spec.lua: incremental runs against the private
-- Dovecot with CONDSTORE (and QRESYNC, which Dovecot offers, so changed()
-- takes one SELECT): an unchanged mailbox costs one STATUS, a flag
-- changed by another connection shows in Mailbox:changed() and not in
-- new(), an APPEND in new(), a new UIDVALIDITY makes everything changed,
-- a run that asks only for changes keeps new()'s place, a dry run
-- records nothing, and the selected mailbox is never asked by STATUS.
local server = require "support.server"
local util = require "support.util"
local state = require "imapsift.state"
local plan = require "imapsift.plan"
local sh = require "support.state_helpers"

server.as(16) -- rita: this file's own user

local BOX = "StateIncr"
local fx = sh.box(BOX, "rita-incr")
local fresh, append, flag, run = fx.fresh, fx.append, fx.flag, fx.run
local about_box = sh.about_box

describe("incremental runs on Dovecot (CONDSTORE)", function()
  local sb, lines

  before_each(function()
    sb = util.state_sandbox(state, plan)
    lines = sb.lines
  end)

  after_each(function() util.state_restore(sb, state, plan) end)

  teardown(fx.drop)

  -- A first run of new() and changed() that the later runs start from.
  local function first(n)
    local uids = fresh(n)
    local got_new, got_changed
    run(function(mb)
      got_new = mb:new():uids()
      got_changed = mb:changed():uids()
    end)
    assert.same(uids, got_new)
    assert.same(uids, got_changed)
    assert.equal(1, state.commit())
    return uids
  end

  it("sends one STATUS for an unchanged mailbox, at most 3 commands in " ..
    "all", function()
    first(20)
    local got_new, got_changed
    local sent = run(function(mb)
      got_new = mb:new():uids()
      got_changed = mb:changed():uids()
      -- later looks in the run send nothing more
      assert.equal(0, #mb:new())
      assert.equal(0, #mb:changed())
    end)
    assert.same({}, got_new)
    assert.same({}, got_changed)
    assert.is_true(#sent <= 3, table.concat(sent, "; "))
    assert.same({ sh.status_line(BOX) }, about_box(sent))
    assert.equal(1, state.commit())
  end)

  it("shows a flag changed by another client in changed(), not in new()",
    function()
    local uids = first(5)
    flag({ uids[2], uids[4] }, "\\Flagged")
    local got_new, got_changed
    local sent = run(function(mb)
      got_new = mb:new():uids()
      got_changed = mb:changed():uids()
    end)
    assert.same({}, got_new)
    assert.same({ uids[2], uids[4] }, got_changed)
    -- Dovecot offers QRESYNC: one SELECT answers, with no MODSEQ search.
    assert.equal(1, util.count(sent, "^SELECT .*%(QRESYNC "))
    assert.equal(0, util.count(sent, "^UID SEARCH .*MODSEQ"))
    assert.equal(0, util.count(sent, "FETCH"))
    state.commit()
    -- and only once
    sent = run(function(mb) got_changed = mb:changed():uids() end)
    assert.same({}, got_changed)
    assert.same({ sh.status_line(BOX) }, about_box(sent))
  end)

  it("shows an APPEND in new() (and, as a change, in changed())",
    function()
    first(3)
    local more = append(2)
    local got_new, got_changed, without
    run(function(mb)
      got_new = mb:new():uids()
      got_changed = mb:changed():uids()
      without = (mb:changed() - mb:new()):uids()
    end)
    assert.same(more, got_new)
    assert.same(more, got_changed)
    assert.same({}, without)
    state.commit()
    local rec = state.read("rita-incr", BOX)
    assert.equal(more[2], rec.last_uid)
    assert.equal(more[2] + 1, rec.uidnext)
  end)

  it("counts the run's own flag changes as changes for the next run",
    function()
    local uids = first(3)
    run(function(mb)
      assert.equal(0, #mb:changed())
      mb:search{ uid = { uids[2] } }:flag("\\Flagged")
      assert.equal(0, #mb:changed()) -- the same window all run
    end)
    state.commit()
    local got
    run(function(mb) got = mb:changed():uids() end)
    assert.same({ uids[2] }, got)
  end)

  it("keeps new()'s place in a run that asks only for changes", function()
    local uids = first(3)
    local more = append(1)
    flag({ uids[1] }, "\\Seen")
    local got
    run(function(mb) got = mb:changed():uids() end)
    assert.same({ uids[1], more[1] }, got)
    state.commit()
    run(function(mb) got = mb:new():uids() end)
    assert.same(more, got)
  end)

  it("makes everything changed when UIDVALIDITY changed, with a warning",
    function()
    first(2)
    local old = state.read("rita-incr", BOX).uidvalidity
    local uids = fresh(3)
    local got_new, got_changed
    run(function(mb)
      got_changed = mb:changed():uids()
      got_new = mb:new():uids()
    end)
    assert.same(uids, got_changed)
    assert.same(uids, got_new)
    local new = state.pending()[1].uidvalidity
    assert.are_not.equal(old, new)
    assert.equal(1, util.count(lines, util.lit(("warning: rita-incr: %s: " ..
      "UIDVALIDITY changed from %d to %d; every message counts as new")
      :format(BOX, old, new))))
  end)

  it("records nothing in a dry run (and only examines)", function()
    local uids = first(3)
    local file = select(2, state.path("rita-incr", BOX))
    local before = util.read_file(file)
    flag({ uids[3] }, "\\Answered")
    plan.dry_run(true)
    local got
    local sent = run(function(mb) got = mb:changed():uids() end)
    assert.same({ uids[3] }, got)
    assert.equal(0, util.count(sent, "^SELECT "))
    assert.equal(1, util.count(sent, "^EXAMINE .*%(QRESYNC "))
    assert.equal(0, state.commit())
    assert.equal(before, util.read_file(file))
    plan.dry_run(false)
    run(function(mb) got = mb:changed():uids() end)
    assert.same({ uids[3] }, got)
  end)

  it("sends no STATUS for the mailbox the run has selected", function()
    first(4)
    local got_new, got_changed
    local sent = run(function(mb)
      assert.equal(4, #mb:search{})
      got_new = mb:new():uids()
      got_changed = mb:changed():uids()
    end)
    assert.same({}, got_new)
    assert.same({}, got_changed)
    assert.equal(0, util.count(sent, "^STATUS"))
    assert.equal(1, util.count(sent, "^SELECT"))
    assert.equal(2, #about_box(sent))
  end)
end)
