-- spec/qresync_spec.lua: QRESYNC (RFC 7162 3.2) in the incremental state
-- and the connection. Against the private Dovecot: after flags changed,
-- mail expunged and mail appended, Mailbox:changed(), vanished() and
-- new() give exactly those, from one SELECT with QRESYNC and no UID
-- SEARCH MODSEQ; an unchanged mailbox still costs one STATUS; expunges
-- arrive as VANISHED once QRESYNC is on, and the connection counts them
-- (EXISTS, expunge(), IDLE). Against the scripted fake server: a server
-- without QRESYNC keeps the CONDSTORE path and vanished() says why it
-- cannot answer; malformed and oversized VANISHED responses.
local server = require "support.server"
local util = require "support.util"
local fs = require "support.fake_state"
local state = require "imapsift.state"
local plan = require "imapsift.plan"
local sh = require "support.state_helpers"

server.as(20) -- victor: this file's own user

local BOX = "QresyncState"
local NAME = "victor-qresync"

local fx = sh.box(BOX, NAME)
local fresh, append, flag, expunge = fx.fresh, fx.append, fx.flag,
  fx.expunge

-- run(fn) -> the commands of one run (tags dropped), but logging in and
-- out.
local function run(fn) return sh.about_box(fx.run(fn)) end

local function status_line() return sh.status_line(BOX) end

describe("QRESYNC incremental runs on Dovecot", function()
  local sb

  before_each(function() sb = util.state_sandbox(state, plan) end)
  after_each(function() util.state_restore(sb, state, plan) end)
  teardown(fx.drop)

  -- A first run of new(), changed() and vanished() the later runs start
  -- from: everything new and changed, nothing vanished.
  local function first(n)
    local uids = fresh(n)
    local got = {}
    run(function(mb)
      got.new = mb:new():uids()
      got.changed = mb:changed():uids()
      got.vanished = mb:vanished():uids()
    end)
    assert.same(uids, got.new)
    assert.same(uids, got.changed)
    assert.same({}, got.vanished)
    assert.equal(1, state.commit())
    return uids
  end

  it("gives exactly the changed, the expunged and the appended, from one " ..
    "SELECT with QRESYNC and no UID SEARCH MODSEQ", function()
    local uids = first(8)
    flag({ uids[2], uids[5] }, "\\Flagged")
    expunge({ uids[3], uids[6], uids[7] })
    local more = append(2)
    local got = {}
    local sent = run(function(mb)
      got.changed = mb:changed():uids()
      got.vanished = mb:vanished():uids()
      got.new = mb:new():uids()
      got.only = (mb:changed() - mb:new()):uids()
    end)
    assert.same({ uids[2], uids[5], more[1], more[2] }, got.changed)
    assert.same({ uids[3], uids[6], uids[7] }, got.vanished)
    assert.same(more, got.new)
    assert.same({ uids[2], uids[5] }, got.only)
    -- changed() and vanished(): the look, then one SELECT answers both;
    -- the rest is new()'s UID searches of the window
    local rec = state.read(NAME, BOX)
    assert.same({ status_line(), "ENABLE QRESYNC",
      ("SELECT %s (QRESYNC (%d %d 1:%d))"):format(BOX, rec.uidvalidity,
        rec.highestmodseq, more[2]) }, { sent[1], sent[2], sent[3] })
    assert.equal(#sent - 3, util.count(sent, "^UID SEARCH .*UID %d+:"))
    assert.equal(1, util.count(sent, "^SELECT"))
    assert.equal(0, util.count(sent, "SEARCH .*MODSEQ"))
    state.commit()
    -- and only once: the next run sees nothing, for one STATUS
    sent = run(function(mb)
      got.changed = mb:changed():uids()
      got.vanished = mb:vanished():uids()
    end)
    assert.same({}, got.changed)
    assert.same({}, got.vanished)
    assert.same({ status_line() }, sent)
  end)

  it("costs one STATUS for an unchanged mailbox", function()
    first(4)
    local got = {}
    local sent = run(function(mb)
      got.vanished = mb:vanished():uids()
      got.changed = mb:changed():uids()
      got.new = mb:new():uids()
    end)
    assert.same({ {}, {}, {} }, { got.vanished, got.changed, got.new })
    assert.same({ status_line() }, sent)
  end)

  it("reports an expunge alone in vanished(), and a run that asks only " ..
    "vanished() moves the mark for changed() too", function()
    local uids = first(5)
    expunge({ uids[1] })
    local got
    run(function(mb) got = mb:vanished():uids() end)
    assert.same({ uids[1] }, got)
    state.commit()
    local sent = run(function(mb) got = mb:changed():uids() end)
    assert.same({}, got)
    assert.same({ status_line() }, sent)
  end)

  it("enables QRESYNC after leaving a mailbox the run had selected",
    function()
    local uids = first(4)
    flag({ uids[4] }, "\\Seen")
    local got
    local sent = run(function(mb)
      assert.equal(4, #mb:search{})
      got = mb:changed():uids()
    end)
    assert.same({ uids[4] }, got)
    local i
    for k, c in ipairs(sent) do if c == "UNSELECT" then i = k end end
    assert.equal("ENABLE QRESYNC", sent[i + 1])
    assert.equal(1, util.count(sent, "^SELECT .*%(QRESYNC "))
    assert.equal(0, util.count(sent, "SEARCH .*MODSEQ"))
  end)

  it("examines with QRESYNC in a dry run and records nothing", function()
    local uids = first(3)
    expunge({ uids[2] })
    plan.dry_run(true)
    local got
    local sent = run(function(mb) got = mb:vanished():uids() end)
    assert.same({ uids[2] }, got)
    assert.equal(1, util.count(sent, "^EXAMINE .*%(QRESYNC "))
    assert.equal(0, util.count(sent, "^SELECT "))
    assert.equal(0, state.commit())
    plan.dry_run(false)
    run(function(mb) got = mb:vanished():uids() end)
    assert.same({ uids[2] }, got)
  end)

  it("gives nothing vanished when UIDVALIDITY changed, with a warning",
    function()
    first(2)
    local uids = fresh(3)
    local got = {}
    run(function(mb)
      got.vanished = mb:vanished():uids()
      got.changed = mb:changed():uids()
    end)
    assert.same({}, got.vanished)
    assert.same(uids, got.changed)
    assert.matches("UIDVALIDITY changed", table.concat(sb.lines, "\n"))
  end)
end)

describe("expunges as VANISHED after ENABLE QRESYNC (Dovecot)", function()
  local imap

  before_each(function()
    fresh(5)
    imap = server.connect()
    imap:enable("QRESYNC")
  end)
  after_each(function() imap:logout() end)

  it("counts them in EXISTS and returns their UIDs from expunge()",
    function()
    local box = imap:select(BOX)
    local uids = imap:search{ "ALL" }
    assert.equal(5, box.exists)
    imap:store({ uids[2], uids[4] }, "+FLAGS", { "\\Deleted" })
    local seqs, gone = imap:expunge({ uids[2], uids[4] })
    assert.same({}, seqs)
    assert.same({ uids[2], uids[4] }, gone)
    assert.equal(3, imap.mailbox.exists)
    imap:store({ uids[5] }, "+FLAGS", { "\\Deleted" })
    seqs, gone = imap:expunge()
    assert.same({}, seqs)
    assert.same({ uids[5] }, gone)
    assert.equal(2, imap.mailbox.exists)
  end)

  it("hears another client's expunge in IDLE and lowers EXISTS", function()
    imap:select(BOX)
    local uids = imap:search{ "ALL" }
    -- Dovecot tells what happened meanwhile as soon as IDLE starts.
    expunge({ uids[1] })
    local heard
    local reason = imap:idle(30, function(r)
      if r.type == "VANISHED" then heard = r; return true end
    end)
    assert.equal("stopped", reason)
    assert.same({ tostring(uids[1]) }, { tostring(heard.args[1]) })
    assert.equal(4, imap.mailbox.exists)
  end)
end)

---------------------------------------------------------------------------
-- The scripted fake server

describe("QRESYNC on a scripted server", function()
  before_each(fs.begin)
  after_each(fs.finish)

  local start = fs.start
  local function recorded() fs.recorded{ highestmodseq = 500 } end

  local STATUS = { { recv = "^A1 STATUS INBOX %(UIDNEXT UIDVALIDITY " ..
    "HIGHESTMODSEQ%)\r\n$" },
    { send = "* STATUS INBOX (UIDNEXT 12 UIDVALIDITY 42 HIGHESTMODSEQ " ..
      "507)\r\n" }, { reply = "OK done" } }

  local function with_status(more)
    local out = {}
    for _, s in ipairs(STATUS) do out[#out + 1] = s end
    for _, s in ipairs(more) do out[#out + 1] = s end
    return out
  end

  local SELECTED = fs.selected(12, 507)

  -- qresync(answer) -> the steps of a server offering QRESYNC: the
  -- STATUS, ENABLE QRESYNC, then SELECT (QRESYNC ...) of the recorded
  -- state answered with answer.
  local function qresync(answer)
    return with_status{
      { recv = "^A2 ENABLE QRESYNC\r\n$" },
      { send = "* ENABLED QRESYNC\r\n" }, { reply = "OK enabled" },
      { recv = "^A3 SELECT INBOX %(QRESYNC %(42 500 1:11%)%)\r\n$" },
      { send = answer }, { reply = "OK [READ-WRITE] selected" } }
  end

  it("keeps the CONDSTORE path without QRESYNC, and vanished() raises " ..
    "kind unsupported naming the mailbox and QRESYNC", function()
    recorded()
    local acct = start(" CONDSTORE", with_status{
      { recv = "^A2 SELECT INBOX %(CONDSTORE%)\r\n$" },
      { send = SELECTED }, { reply = "OK [READ-WRITE] selected" },
      { recv = "^A3 UID SEARCH UID 1:11 MODSEQ 501\r\n$" },
      { send = "* SEARCH 4 11\r\n" }, { reply = "OK done" } })
    local mb = acct:mailbox("INBOX")
    assert.same({ 4, 11 }, mb:changed():uids())
    local err = util.catch(function() mb:vanished() end)
    assert.equal("unsupported", err.kind)
    assert.equal("INBOX", err.mailbox)
    assert.equal("QRESYNC", err.capability)
    assert.matches("INBOX.*QRESYNC", tostring(err))
  end)

  it("fails a SELECT whose VANISHED is malformed (kind protocol)",
    function()
    recorded()
    local acct = start(" CONDSTORE QRESYNC ENABLE",
      qresync(SELECTED .. "* VANISHED (LATER) 3\r\n"))
    local err = util.catch(function() acct:mailbox("INBOX"):vanished() end)
    assert.equal("protocol", err.kind)
    assert.matches("VANISHED", err.text)
  end)

  it("caps the UIDs of a VANISHED at limits.max_uids (kind limit)",
    function()
    recorded()
    local acct = start(" CONDSTORE QRESYNC ENABLE",
      qresync(SELECTED .. "* VANISHED (EARLIER) 1:4294967295\r\n"))
    local err = util.catch(function() acct:mailbox("INBOX"):vanished() end)
    assert.equal("limit", err.kind)
  end)

  it("keeps only the window's UIDs of a QRESYNC answer, sorted and once, " ..
    "and nothing said before OK [CLOSED]",
    function()
    recorded()
    local acct, srv = start(" CONDSTORE QRESYNC ENABLE", qresync(
      "* 1 FETCH (UID 5 FLAGS (\\Seen))\r\n" ..
      "* OK [CLOSED] the mailbox before\r\n" ..
      SELECTED .. "* VANISHED (EARLIER) 7,2:3,12\r\n" ..
      "* 5 FETCH (UID 9 FLAGS () MODSEQ (503))\r\n" ..
      "* 2 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (501))\r\n" ..
      "* 5 FETCH (UID 9 FLAGS (\\Seen) MODSEQ (505))\r\n"))
    local mb = acct:mailbox("INBOX")
    assert.same({ 2, 3, 7 }, mb:vanished():uids())
    assert.same({ 4, 9 }, mb:changed():uids())
    rawget(acct, "link"):shutdown()
    assert.equal(3, select(2, srv:log():gsub("\n", "")))
    assert.equal(507, state.pending()[1].highestmodseq)
  end)
end)
