-- Specs for bulk APPEND against the private Dovecot: imap:append_many
-- (MULTIAPPEND and pipelined single APPENDs, LITERAL+) and the rules
-- layer's mailbox:append (recorded in the plan, planned in a dry run).
local server = require "support.server"
local testing = require "imapsift.testing"
local plan = require "imapsift.plan"

server.as(15) -- quinn: this file's own user

local imap

before_each(function()
  imap = server.connect()
  server.reset(imap)
end)

after_each(function()
  if imap then pcall(imap.logout, imap) end
  plan.dry_run(false)
  plan.reset()
end)

local function messages(n, tag)
  local out = {}
  for i = 1, n do
    out[i] = server.message{ subject = tag .. " " .. i,
      message_id = ("<%s-%d@example.org>"):format(tag, i) }
  end
  return out
end

-- Round trips: a client line after server lines (the first one too).
local function count_round_trips(conn)
  local n, last = 0, "S"
  conn:set_trace(function(dir)
    if dir == "C" and last == "S" then n = n + 1 end
    last = dir
  end)
  return function() return n end
end

local function subjects(name)
  imap:examine(name)
  local out = {}
  for _, m in ipairs(imap:fetch("1:*", { "UID", "ENVELOPE" })) do
    out[#out + 1] = m.envelope.subject
  end
  return out
end

describe("imap:append_many on Dovecot", function()
  it("appends in order in one round trip with MULTIAPPEND", function()
    assert.is_true(imap.capabilities.MULTIAPPEND)
    local trips = count_round_trips(imap)
    local r = imap:append_many("INBOX", messages(120, "multi"),
      { batch = 50 })
    imap:set_trace(false)
    assert.equal(1, trips())
    assert.equal(120, #r)
    for i = 2, #r do assert.equal(r[i - 1].uid + 1, r[i].uid) end
    local got = subjects("INBOX")
    assert.equal(120, #got)
    assert.equal("multi 1", got[1])
    assert.equal("multi 120", got[120])
  end)

  it("pipelines single APPENDs without MULTIAPPEND", function()
    local trips = count_round_trips(imap)
    local r = imap:append_many("INBOX", messages(40, "single"),
      { multiappend = false, window = 40 })
    imap:set_trace(false)
    assert.equal(1, trips())
    assert.equal(40, #r)
    assert.equal(40, #subjects("INBOX"))
  end)

  it("keeps flags and dates", function()
    imap:append_many("INBOX", { { message = server.message{},
      flags = { "\\Flagged", "$Label" }, date = 1706781600 } })
    imap:examine("INBOX")
    local m = imap:fetch("1:*", { "FLAGS", "INTERNALDATE" })[1]
    local flags = table.concat(m.flags, " ")
    assert.truthy(flags:find("\\Flagged", 1, true))
    assert.truthy(flags:find("$Label", 1, true))
    assert.truthy(m.internaldate:find("01-Feb-2024", 1, true))
  end)

  it("reports how many went in when a message is refused", function()
    -- Dovecot refuses an empty message.
    local list = messages(3, "fail")
    table.insert(list, 3, "")
    local ok, err = pcall(imap.append_many, imap, "INBOX", list,
      { multiappend = false })
    assert.is_false(ok)
    assert.equal("no", err.kind)
    assert.equal(2, err.appended)
    assert.is_truthy(err.results[4]) -- in flight after the failure
    assert.equal(3, #subjects("INBOX"))
  end)

  it("fails a missing mailbox with TRYCREATE, nothing appended", function()
    local ok, err = pcall(imap.append_many, imap, "Missing",
      messages(3, "x"))
    assert.is_false(ok)
    assert.equal("TRYCREATE", err.code)
    assert.equal("Missing", err.mailbox)
    assert.equal(0, err.appended)
  end)
end)

describe("mailbox:append", function()
  it("appends, records the plan, creates on TRYCREATE", function()
    local acct = testing.account(server.user, { create = true })
    local r = acct:mailbox("New/Box"):append(messages(5, "rule"))
    assert.equal(5, #r)
    local e = plan.entries()[1]
    assert.equal("append", e.action)
    assert.equal(5, e.count)
    acct:logout()
    assert.equal(5, #subjects("New/Box"))
  end)

  it("plans only in a dry run", function()
    plan.dry_run(true)
    local acct = testing.account(server.user)
    assert.same({}, acct:mailbox("INBOX"):append(messages(2, "dry")))
    assert.is_true(plan.entries()[1].dry)
    acct:logout()
    assert.equal(0, #subjects("INBOX"))
  end)
end)
