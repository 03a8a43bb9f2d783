-- spec/qresync_spec.lua: QRESYNC (RFC 7162 3.2) in the incremental state
-- and the connection. Against the private Dovecot: after flags changed,
-- mail expunged and mail appended, Mailbox:changed(), vanished() and
-- new() give exactly those, from one SELECT with QRESYNC and no UID
-- SEARCH MODSEQ; an unchanged mailbox still costs one STATUS; expunges
-- arrive as VANISHED once QRESYNC is on, and the connection counts them
-- (EXISTS, expunge(), IDLE). Against the scripted fake server: a server
-- without QRESYNC keeps the CONDSTORE path and vanished() says why it
-- cannot answer; malformed and oversized VANISHED responses.
local imapsift = require "imapsift"
local server = require "support.server"
local util = require "support.util"
local fake = require "support.fake"
local account = require "imapsift.account"
local state = require "imapsift.state"
local plan = require "imapsift.plan"

server.as(20) -- victor: this file's own user

local BOX = "QresyncState"
local NAME = "victor-qresync"
local CRLF = "\r\n"

-- with_conn(fn) -> fn(imap)'s result, on a connection of the spec's own
-- (the "other client" whose changes a run must see).
local function with_conn(fn)
  local imap = server.connect()
  local ok, res = pcall(fn, imap)
  imap:logout()
  assert(ok, res)
  return res
end

-- fresh(n) -> UIDs: BOX (re)created holding n messages.
local function fresh(n)
  return with_conn(function(imap)
    pcall(imap.delete, imap, BOX)
    imap:create(BOX)
    return server.fill(imap, BOX, n)
  end)
end

local function append(n)
  return with_conn(function(imap) return server.fill(imap, BOX, n) end)
end

-- flag(uids, f): another client sets f on uids.
local function flag(uids, f)
  with_conn(function(imap)
    imap:select(BOX)
    imap:store(uids, "+FLAGS", { f })
  end)
end

-- expunge(uids): another client (without QRESYNC) removes uids.
local function expunge(uids)
  with_conn(function(imap)
    imap:select(BOX)
    imap:store(uids, "+FLAGS", { "\\Deleted" })
    imap:expunge(uids)
  end)
end

-- run(fn) -> the tagged commands sent (tag dropped), but logging in and
-- out: one run of a script with an account of its own.
local function run(fn)
  local sent = {}
  local acct = imapsift.account(server.opts{ name = NAME,
    trace = function(dir, line)
      local cmd = (dir == "C" or dir == ">") and line:match("^A%d+ (.*)$")
      if cmd and not (cmd:match("^AUTHENTICATE") or cmd:match("^LOGIN") or
          cmd == "LOGOUT") then
        sent[#sent + 1] = cmd
      end
    end })
  local ok, err = pcall(fn, acct:mailbox(BOX))
  acct:logout()
  assert(ok, err)
  return sent
end

local function status_line()
  return ("STATUS %s (UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"):format(BOX)
end

describe("QRESYNC incremental runs on Dovecot", function()
  local sb

  before_each(function() sb = util.state_sandbox(state, plan) end)
  after_each(function() util.state_restore(sb, state, plan) end)
  teardown(function()
    with_conn(function(imap) pcall(imap.delete, imap, BOX) end)
  end)

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
  local servers, accounts, dir, saved_log = {}, {}

  before_each(function()
    dir = util.tmpname()
    state.set_dir(dir)
    state.discard()
    saved_log = plan.log
    plan.log = function() end
    plan.reset()
    plan.dry_run(false)
  end)

  after_each(function()
    for _, a in ipairs(accounts) do
      local conn = rawget(a, "link")
      if conn then conn:shutdown() end
    end
    for _, s in ipairs(servers) do s:cleanup() end
    servers, accounts = {}, {}
    plan.log = saved_log
    plan.reset()
    state.set_dir(nil)
    state.discard()
    util.rm_rf(dir)
  end)

  local function recorded()
    state.record{ account = "fake", mailbox = "INBOX", uidvalidity = 42,
      last_uid = 10, uidnext = 11, highestmodseq = 500 }
    state.commit()
  end

  -- PREAUTH with caps, then the steps; returns the account and server.
  local function start(caps, steps)
    local all = { { send = "* PREAUTH [CAPABILITY IMAP4rev1" .. caps ..
      "] hi" .. CRLF } }
    for _, s in ipairs(steps) do all[#all + 1] = s end
    all[#all + 1] = { drain = true }
    local srv = fake.new(all)
    servers[#servers + 1] = srv
    local acct = account.new(srv:options{ name = "fake" })
    accounts[#accounts + 1] = acct
    return acct, srv
  end

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

  local SELECTED = "* 10 EXISTS\r\n* OK [UIDVALIDITY 42] x\r\n" ..
    "* OK [UIDNEXT 12] x\r\n* OK [HIGHESTMODSEQ 507] x\r\n"

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
    local acct = start(" CONDSTORE QRESYNC ENABLE", with_status{
      { recv = "^A2 ENABLE QRESYNC\r\n$" },
      { send = "* ENABLED QRESYNC\r\n" }, { reply = "OK enabled" },
      { recv = "^A3 SELECT INBOX %(QRESYNC %(42 500 1:11%)%)\r\n$" },
      { send = SELECTED .. "* VANISHED (LATER) 3\r\n" },
      { reply = "OK [READ-WRITE] selected" } })
    local err = util.catch(function() acct:mailbox("INBOX"):vanished() end)
    assert.equal("protocol", err.kind)
    assert.matches("VANISHED", err.text)
  end)

  it("caps the UIDs of a VANISHED at limits.max_uids (kind limit)",
    function()
    recorded()
    local acct = start(" CONDSTORE QRESYNC ENABLE", with_status{
      { recv = "^A2 ENABLE QRESYNC\r\n$" },
      { send = "* ENABLED QRESYNC\r\n" }, { reply = "OK enabled" },
      { recv = "^A3 SELECT INBOX %(QRESYNC %(42 500 1:11%)%)\r\n$" },
      { send = SELECTED .. "* VANISHED (EARLIER) 1:4294967295\r\n" },
      { reply = "OK [READ-WRITE] selected" } })
    local err = util.catch(function() acct:mailbox("INBOX"):vanished() end)
    assert.equal("limit", err.kind)
  end)

  it("keeps only the window's UIDs of a QRESYNC answer, sorted and once, " ..
    "and nothing said before OK [CLOSED]",
    function()
    recorded()
    local acct, srv = start(" CONDSTORE QRESYNC ENABLE", with_status{
      { recv = "^A2 ENABLE QRESYNC\r\n$" },
      { send = "* ENABLED QRESYNC\r\n" }, { reply = "OK enabled" },
      { recv = "^A3 SELECT INBOX %(QRESYNC %(42 500 1:11%)%)\r\n$" },
      { send = "* 1 FETCH (UID 5 FLAGS (\\Seen))\r\n" ..
        "* OK [CLOSED] the mailbox before\r\n" ..
        SELECTED .. "* VANISHED (EARLIER) 7,2:3,12\r\n" ..
        "* 5 FETCH (UID 9 FLAGS () MODSEQ (503))\r\n" ..
        "* 2 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (501))\r\n" ..
        "* 5 FETCH (UID 9 FLAGS (\\Seen) MODSEQ (505))\r\n" },
      { reply = "OK [READ-WRITE] selected" } })
    local mb = acct:mailbox("INBOX")
    assert.same({ 2, 3, 7 }, mb:vanished():uids())
    assert.same({ 4, 9 }, mb:changed():uids())
    rawget(acct, "link"):shutdown()
    assert.equal(3, select(2, srv:log():gsub("\n", "")))
    assert.equal(507, state.pending()[1].highestmodseq)
  end)
end)
