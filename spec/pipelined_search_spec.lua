-- spec/pipelined_search_spec.lua: independent searches of a mailbox go
-- out together when a set is first used (mailbox.lua, msgset.lua,
-- Connection:search_many): one round trip for N searches.
local fake_account = require "support.fake_account"
local errors = require "imapsift.error"
local plan = require "imapsift.plan"
local sets = require "support.sets" -- spare user 4; ctest locks it per file


local start = fake_account.start

after_each(fake_account.cleanup)

local function finish(acct, srv)
  rawget(acct, "link"):shutdown() -- waits for the fake: its status is whole
  assert.equal("done", srv:status())
end

-- The fake reads all three commands before it answers any: a client that
-- waited for the first answer before sending the next would hang.
local THREE = {
  { recv = "^A2 UID SEARCH SUBJECT \"?one\"?\r\n$" },
  { recv = "^A3 UID SEARCH SUBJECT \"?two\"?\r\n$" },
  { recv = "^A4 UID SEARCH SUBJECT \"?three\"?\r\n$" },
}

local function three(acct)
  local inbox = acct:mailbox("INBOX")
  return inbox:search{ subject = "one" }, inbox:search{ subject = "two" },
    inbox:search{ subject = "three" }
end

local function with(steps, answer)
  local out = {}
  for i, s in ipairs(steps) do out[i] = s end
  out[#out + 1] = { send = answer }
  return out
end

describe("pipelined searches on a fake server", function()
  it("sends three searches of a mailbox before reading any answer", function()
    local acct, srv = start("", with(THREE,
      "* SEARCH 1 3\r\nA2 OK done\r\n* SEARCH 3 4\r\nA3 OK done\r\n" ..
      "* SEARCH 5\r\nA4 OK done\r\n"))
    local a, b, c = three(acct)
    local all = a + b + c
    assert.same({ 1, 3, 4, 5 }, all:uids())
    assert.same({ 1, 3 }, a:uids())
    assert.same({ 3 }, (a * b):uids())
    assert.equal(1, #c)
    assert.equal(42, all:parts()[1].uidvalidity)
    finish(acct, srv)
  end)

  it("reads ESEARCH answers matched by tag", function()
    local acct, srv = start("ESEARCH", {
      { recv = "^A2 UID SEARCH RETURN %(ALL%) SUBJECT \"?one\"?\r\n$" },
      { recv = "^A3 UID SEARCH RETURN %(ALL%) SUBJECT \"?two\"?\r\n$" },
      { send = '* ESEARCH (TAG "A2") UID ALL 1:3\r\nA2 OK done\r\n' ..
        '* ESEARCH (TAG "A3") UID ALL 2,5\r\nA3 OK done\r\n' },
    })
    local inbox = acct:mailbox("INBOX")
    local a = inbox:search{ subject = "one" }
    local b = inbox:search{ subject = "two" }
    assert.same({ 2 }, (a * b):uids())
    assert.same({ 1, 3 }, (a - b):uids())
    finish(acct, srv)
  end)

  it("gives a failed search's error to its own set only", function()
    local acct, srv = start("", with(THREE,
      "* SEARCH 1\r\nA2 OK done\r\nA3 NO [CANNOT] no such thing\r\n" ..
      "* SEARCH 2\r\nA4 OK done\r\n"))
    local a, b, c = three(acct)
    assert.same({ 1, 2 }, (a + c):uids())
    for _ = 1, 2 do -- the error stays with the set
      local ok, err = pcall(function() return #b end)
      assert.is_false(ok)
      assert.is_true(errors.is(err, "no"), tostring(err))
      assert.equal('SEARCH in "INBOX"', err.command)
    end
    finish(acct, srv)
  end)

  it("pipelines under a dry run, over EXAMINE", function()
    plan.dry_run(true)
    local acct, srv = start("", with(THREE,
      "* SEARCH 2\r\nA2 OK done\r\n* SEARCH\r\nA3 OK done\r\n" ..
      "* SEARCH 2 4\r\nA4 OK done\r\n"), true)
    local a, b, c = three(acct)
    assert.same({ 2, 4 }, (a + b + c):uids())
    assert.equal(0, #b)
    finish(acct, srv)
  end)

  it("sends waiting searches before anything selects", function()
    local acct, srv = start("", with(THREE,
      "* SEARCH 1\r\nA2 OK done\r\n* SEARCH 2\r\nA3 OK done\r\n" ..
      "* SEARCH 3\r\nA4 OK done\r\n"))
    local a, b, c = three(acct)
    acct:mailbox("INBOX"):select()
    assert.same({ 1, 2, 3 }, (a + b + c):uids())
    finish(acct, srv)
  end)

  it("sends nothing for a set that is never used outside a rule", function()
    local acct, srv = start("", {
      { recv = "^A2 UID SEARCH SUBJECT \"?used\"?\r\n$" },
      { send = "* SEARCH 7\r\nA2 OK done\r\n" },
    })
    local inbox = acct:mailbox("INBOX")
    inbox:search{ subject = "unused" }
    collectgarbage()
    collectgarbage()
    assert.same({ 7 }, inbox:search{ subject = "used" }:uids())
    finish(acct, srv)
    assert.falsy(srv:log():find("unused", 1, true))
  end)
end)

describe("pipelined searches on Dovecot", function()
  local acct, inbox, uids
  local NAME = "p-pipelined"

  setup(function()
    uids = sets.fresh(NAME, { { subject = "alpha", from = "a@example.org" },
      { subject = "beta" }, { subject = "alpha beta" },
      { subject = "gamma", from = "a@example.org" } })
    acct = sets.account()
    inbox = acct:mailbox(NAME)
  end)

  teardown(function()
    acct:logout()
    sets.drop(NAME)
  end)

  it("answers as the searches sent one by one do", function()
    local list = { { subject = "alpha" }, { subject = "beta" },
      { from = "a@example.org" }, {}, { subject = "nothing-matches" } }
    local lazy = {}
    for i, c in ipairs(list) do lazy[i] = inbox:search(c) end
    local got = {}
    for i, s in ipairs(lazy) do got[i] = s:uids() end
    local eager = {}
    acct:read(function(conn)
      conn:select(NAME)
      local criteria = require "imapsift.criteria"
      for i, c in ipairs(list) do
        eager[i] = conn:search(next(c) and criteria.keys(c) or { "ALL" })
      end
    end)
    assert.same(eager, got)
    assert.same({ uids[1], uids[3] }, got[1])
    assert.same(uids, got[4])
    assert.same({}, got[5])
  end)
end)
