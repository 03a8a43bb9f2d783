-- spec/state_fake_spec.lua: Mailbox:new() and changed() against the
-- scripted fake server: the exact commands they send for a recorded
-- state (one STATUS while unchanged), a server answering n:* with an
-- older UID, one that gives no UIDVALIDITY and one without CONDSTORE.
local fs = require "support.fake_state"
local state = require "imapsift.state"
local util = require "support.util"

local recorded, box = fs.recorded, fs.selected

before_each(fs.begin)
after_each(fs.finish)

-- PREAUTH (with caps), then STATUS INBOX answered with status (a
-- "* STATUS" line), then more.
local function start(status, more, caps)
  local steps = {
    { recv = "^A1 STATUS INBOX %(UIDNEXT UIDVALIDITY[^)]*%)\r\n$" },
    { send = status },
    { reply = "OK done" },
  }
  for _, s in ipairs(more or {}) do steps[#steps + 1] = s end
  return fs.start(caps or "", steps)
end

local function sent(acct, srv)
  rawget(acct, "link"):shutdown() -- waits for the fake: the log is whole
  local out = {}
  for line in srv:log():gmatch("([^\n]*)\n") do
    out[#out + 1] = line:gsub("\r$", ""):gsub("^%S+ ", "")
  end
  return out
end

local function status(uidnext, modseq)
  return "* STATUS INBOX (UIDNEXT " .. uidnext .. " UIDVALIDITY 42" ..
    (modseq and (" HIGHESTMODSEQ " .. modseq) or "") .. ")\r\n"
end

describe("Mailbox:new() on a scripted server", function()
  it("sends only a STATUS when UIDNEXT is as recorded, and keeps the " ..
    "recorded HIGHESTMODSEQ", function()
    recorded{ highestmodseq = 500 }
    local acct, srv = start(status(11))
    assert.equal(0, #acct:mailbox("INBOX"):new())
    assert.same({ "STATUS INBOX (UIDNEXT UIDVALIDITY)" }, sent(acct, srv))
    local p = state.pending()[1]
    assert.same({ 42, 10, 11, 500 },
      { p.uidvalidity, p.last_uid, p.uidnext, p.highestmodseq })
  end)

  it("keeps only UIDs above the last seen from the n:* answer", function()
    recorded()
    local acct, srv = start(status(14), {
      { recv = "^A2 SELECT INBOX\r\n$" }, { send = box(14) },
      { reply = "OK [READ-WRITE] selected" },
      { recv = "^A3 UID SEARCH UID 11:%*\r\n$" },
      { send = "* SEARCH 9 10 12 13\r\n" }, { reply = "OK done" } })
    assert.same({ 12, 13 }, acct:mailbox("INBOX"):new():uids())
    sent(acct, srv)
    local p = state.pending()[1]
    assert.same({ 42, 13, 14 }, { p.uidvalidity, p.last_uid, p.uidnext })
  end)

  it("raises kind protocol when the server gives no UIDVALIDITY",
    function()
    recorded()
    local acct = start("* STATUS INBOX (UIDNEXT 11)\r\n")
    local err = util.catch(function() acct:mailbox("INBOX"):new() end)
    assert.equal("protocol", err.kind)
    assert.matches("no UIDVALIDITY", err.text)
    assert.same({}, state.pending())
  end)
end)

describe("Mailbox:changed() on a scripted server", function()
  it("sends only a STATUS when HIGHESTMODSEQ is as recorded", function()
    recorded{ highestmodseq = 500 }
    local acct, srv = start(status(11, 500), nil, " CONDSTORE")
    assert.equal(0, #acct:mailbox("INBOX"):changed())
    assert.same({ "STATUS INBOX (UIDNEXT UIDVALIDITY HIGHESTMODSEQ)" },
      sent(acct, srv))
    assert.equal(500, state.pending()[1].highestmodseq)
  end)

  it("searches by MODSEQ below the look's UIDNEXT when HIGHESTMODSEQ moved",
    function()
    recorded{ highestmodseq = 500 }
    local acct, srv = start(status(12, 507), {
      { recv = "^A2 SELECT INBOX %(CONDSTORE%)\r\n$" },
      { send = box(12, 507) }, { reply = "OK [READ-WRITE] selected" },
      { recv = "^A3 UID SEARCH UID 1:11 MODSEQ 501\r\n$" },
      { send = "* SEARCH 3 11\r\n" }, { reply = "OK done" } },
      " CONDSTORE")
    assert.same({ 3, 11 }, acct:mailbox("INBOX"):changed():uids())
    sent(acct, srv)
    local p = state.pending()[1]
    -- changed() moves HIGHESTMODSEQ only: new() still has 11 to give.
    assert.same({ 42, 10, 11, 507 },
      { p.uidvalidity, p.last_uid, p.uidnext, p.highestmodseq })
  end)

  it("raises kind usage when the server does not offer CONDSTORE",
    function()
    local acct = fs.start("", {})
    recorded{ highestmodseq = 500 }
    local err = util.catch(function() acct:mailbox("INBOX"):changed() end)
    assert.equal("usage", err.kind)
    assert.matches("CONDSTORE", err.text)
    assert.same({}, state.pending())
  end)
end)
