-- spec/batch_failure_spec.lua: queued flag changes (imapsift.batch) when
-- things go wrong, on scripted fake servers: a link cut with STOREs in
-- flight, a UIDVALIDITY that changed between queue and send, the SAVE
-- result variable $ of SEARCHRES (RFC 5182) replaced or emptied by a
-- failed search, and a NO on one STORE of a pipelined flight.
local fake_account = require "support.fake_account"
local plan = require "imapsift.plan"
local imapsift = require "imapsift"
local batch = require "imapsift.batch"
local util = require "support.util"

local RES = "ESEARCH SEARCHRES"

-- The plan's log lines are not what these specs look at.
-- Some set WINDOW_BYTES to 1: one command ahead of the answers read.
local log, window = plan.log, batch.WINDOW_BYTES
before_each(function() plan.log = function() end end)
after_each(function()
  plan.log, batch.WINDOW_BYTES = log, window
  fake_account.cleanup()
end)

-- Closes the account's link, which waits for the fake to exit, so that
-- its log and status are whole.
local function finish(acct, srv)
  local c = rawget(acct, "link")
  if c then c:shutdown() end
  assert.equal("done", srv:status())
end

-- The command lines the client sent after login (A1 SELECT INBOX).
local function sent(srv)
  local out = srv:lines()
  assert.equal("A1 SELECT INBOX", out[1])
  table.remove(out, 1)
  return out
end

local function search_save(tag, subject)
  return ('%s UID SEARCH RETURN (SAVE ALL) SUBJECT "%s"'):format(tag,
    subject)
end

-- saving(n, subject) -> the step expecting that SAVE search as An.
local function saving(n, subject)
  return { recv = "^" .. util.lit(search_save("A" .. n, subject)) ..
    "\r\n$" }
end

-- saved_stores(list, more) -> the steps expecting, from A2 on, each
-- rule's { name, subject, keyword } SAVE search then its UID STORE $ of
-- the keyword, then the steps of more (and its closes).
local function saved_stores(list, more)
  local out = { closes = more.closes }
  for i, r in ipairs(list) do
    out[#out + 1] = saving(2 * i, r[2])
    out[#out + 1] = { recv = "^" .. util.lit(("A%d UID STORE $ " ..
      "+FLAGS.SILENT (%s)"):format(2 * i + 1, r[3])) .. "\r\n$" }
  end
  for _, step in ipairs(more) do out[#out + 1] = step end
  return out
end

-- The rule's errors by name: { [rule] = err }.
local function errors_by_rule()
  local out = {}
  for _, e in ipairs(plan.errors()) do
    assert.is_nil(out[e.rule], "two errors for " .. tostring(e.rule))
    out[e.rule] = e.error
  end
  return out
end

local function flagged()
  local out = {}
  for _, c in ipairs(plan.summary()) do out[c.rule] = c.flagged end
  return out
end

-- rules(acct, spec): one rule per { name, subject, keyword }; returns
-- the sets they searched (kept, so a search put back is sent again).
local function rules(acct, list)
  local sets = {}
  for i, r in ipairs(list) do
    assert.is_true(imapsift.rule(r[1], function()
      sets[i] = acct.INBOX:search{ subject = r[2] }
      sets[i]:add_keyword(r[3])
    end))
  end
  return sets
end

-- flight(names, answers) -> account, server, errors by rule: three
-- rules, names[i] searching subject "a", "b" or "c" by SAVE and adding
-- keyword ki by STORE $, all six sent before the server says answers.
local function flight(names, answers)
  local list = {}
  for i, name in ipairs(names) do
    list[i] = { name, ("abc"):sub(i, i), "k" .. i }
  end
  local acct, srv = fake_account.start(RES,
    saved_stores(list, { { send = answers } }))
  rules(acct, list)
  return acct, srv, errors_by_rule()
end

describe("queued flag changes on a link cut", function()
  it("reports STOREs sent and unconfirmed against their rules and never " ..
    "sends them again on the new link", function()
    local list = { { "one", "a", "k1" }, { "two", "b", "k2" } }
    local acct, srvs = fake_account.start_links(RES, {
      saved_stores(list, {
        { send = '* ESEARCH (TAG "A2") UID ALL 1:2\r\nA2 OK done\r\n' },
        { close = true }, closes = true }),
      -- The new link: the unanswered search is a read, sent again; no
      -- STORE goes out.
      { saving(2, "b"),
        { send = '* ESEARCH (TAG "A2") UID ALL 3\r\nA2 OK done\r\n' } },
    })
    local sets = rules(acct, list)
    local errs = errors_by_rule()
    for name, flag in pairs{ one = "k1", two = "k2" } do
      local err = errs[name]
      assert.is_truthy(err, name)
      assert.equal("closed", err.kind)
      assert.equal("INBOX", err.mailbox)
      assert.equal("STORE +FLAGS", err.command)
      assert.is_nil(err.text:find(flag, 1, true))
    end
    assert.same({}, plan.entries()) -- nothing confirmed, nothing recorded
    assert.same({ one = 0, two = 0 }, flagged())
    assert.same({ 1, 2 }, sets[1]:uids()) -- the answered search stands
    assert.same({ 3 }, sets[2]:uids())
    assert.equal("done", srvs[1]:status())
    finish(acct, srvs[2])
    assert.same({ search_save("A2", "b") }, sent(srvs[2]))
  end)

  -- A first link that sends the searches of rules a and b, answers the
  -- first, and is cut.
  local CUT_AFTER_A = {
    { recv = "^A2 UID SEARCH SUBJECT \"a\"\r\n$" },
    { recv = "^A3 UID SEARCH SUBJECT \"b\"\r\n$" },
    { send = "* SEARCH 1 2\r\nA2 OK done\r\n" },
    { close = true }, closes = true }

  it("sends STOREs never sent on the new link when UIDVALIDITY held",
    function()
    local acct, srvs = fake_account.start_links("", {
      CUT_AFTER_A,
      -- The search put back goes first (no flag change can alter it),
      -- then the STORE on the UIDs known from before, never yet sent.
      { { recv = "^A2 UID SEARCH SUBJECT \"b\"\r\n$" },
        { recv = "^A3 UID STORE 1:2 %+FLAGS.SILENT %(k1%)\r\n$" },
        { send = "* SEARCH 4\r\nA2 OK done\r\nA3 OK stored\r\n" },
        { recv = "^A4 UID STORE 4 %+FLAGS.SILENT %(k2%)\r\n$" },
        { send = "A4 OK stored\r\n" } },
    })
    local sets = rules(acct, { { "one", "a", "k1" }, { "two", "b", "k2" } })
    assert.same({}, plan.errors())
    local entries = plan.entries()
    assert.equal(2, #entries)
    assert.same({ "one", { 1, 2 } }, { entries[1].rule, entries[1].uids })
    assert.same({ "two", { 4 } }, { entries[2].rule, entries[2].uids })
    assert.same({ one = 2, two = 1 }, flagged())
    assert.same({ 4 }, sets[2]:uids())
    finish(acct, srvs[2])
  end)

  it("sends no STORE at all when the new link finds a new UIDVALIDITY",
    function()
    local acct, srvs = fake_account.start_links("", {
      CUT_AFTER_A,
      { uidvalidity = 43 },
    })
    rules(acct, { { "one", "a", "k1" }, { "two", "b", "k2" } })
    local errs = errors_by_rule()
    for _, name in ipairs{ "one", "two" } do
      assert.is_truthy(errs[name], name)
      assert.equal("uidvalidity", errs[name].kind)
      assert.equal(42, errs[name].old)
      assert.equal(43, errs[name].new)
    end
    assert.same({}, plan.entries())
    finish(acct, srvs[2])
    assert.same({}, sent(srvs[2]))
  end)
end)

describe("queued flag changes and a link that reconnects by itself",
  function()
  it("never sends the rest of a flight on a new link", function()
    batch.WINDOW_BYTES = 1
    local acct, srvs = fake_account.start_links(RES, {
      { saving(2, "a"),
        { send = '* ESEARCH (TAG "A2") UID ALL 1:2\r\nA2 OK done\r\n' },
        { close = true }, closes = true },
      { uidvalidity = 43 },
    }, { reconnect = { on_uidvalidity = "report" } })
    -- The reader sees the end of the link right after the search's
    -- answer, before the STORE $ that follows it is sent.
    local c = acct:conn()
    local search_answer = c.search_answer
    c.search_answer = function(self, ...)
      local err = search_answer(self, ...)
      assert.is_nil(self.conn:read(5))
      assert.is_true(self.conn:closed())
      return err
    end
    rules(acct, { { "one", "a", "k1" } })
    local errs = errors_by_rule()
    assert.equal("uidvalidity", errs.one and errs.one.kind)
    assert.same({}, plan.entries())
    finish(acct, srvs[2])
    for _, line in ipairs(sent(srvs[2])) do
      assert.is_nil(line:find("STORE", 1, true), line)
    end
  end)
end)

describe("a long set's STORE sent in pieces", function()
  -- Lines of at most 210 bytes: the UIDs go at most 10 characters a
  -- command, 1,3,5,7,9 in one and 11,13 in another.
  local SHORT = { max_line = 210 }
  local SEARCH = {
    { recv = "^A2 UID SEARCH SUBJECT \"a\"\r\n$" },
    { send = "* SEARCH 1 3 5 7 9 11 13\r\nA2 OK done\r\n" },
    { recv = "^A3 UID STORE 1,3,5,7,9 %+FLAGS.SILENT %(k1%)\r\n$" },
    { recv = "^A4 UID STORE 11,13 %+FLAGS.SILENT %(k1%)\r\n$" },
  }
  local function link(last, closes)
    local out = { closes = closes }
    for i, step in ipairs(SEARCH) do out[i] = step end
    for _, step in ipairs(last) do out[#out + 1] = step end
    return out
  end

  it("records the pieces confirmed and fails the rule for the one refused",
    function()
    local acct, srvs = fake_account.start_links("", {
      link{ { send = "A3 NO [CANNOT] refused\r\nA4 OK stored\r\n" } },
    }, SHORT)
    rules(acct, { { "long", "a", "k1" } })
    local errs = errors_by_rule()
    assert.equal("no", errs.long and errs.long.kind)
    local entries = plan.entries()
    assert.equal(1, #entries)
    assert.same({ "long", { 11, 13 } }, { entries[1].rule, entries[1].uids })
    assert.same({ long = 2 }, flagged())
    finish(acct, srvs[1])
  end)

  it("records the pieces confirmed before a cut, and fails the rest",
    function()
    local acct, srvs = fake_account.start_links("", {
      link({ { send = "A3 OK stored\r\n" }, { close = true } }, true),
    }, SHORT)
    rules(acct, { { "long", "a", "k1" } })
    local errs = errors_by_rule()
    assert.equal("closed", errs.long and errs.long.kind)
    assert.equal("INBOX", errs.long.mailbox)
    local entries = plan.entries()
    assert.equal(1, #entries)
    assert.same({ 1, 3, 5, 7, 9 }, entries[1].uids)
    assert.same({ long = 5 }, flagged())
    finish(acct, srvs[1]) -- and no new link: nothing to send again
  end)

  it("sends only the pieces never sent on the new link", function()
    batch.WINDOW_BYTES = 1
    local first = { SEARCH[1], SEARCH[2], SEARCH[3],
      { send = "A3 OK stored\r\n" }, { close = true }, closes = true }
    local acct, srvs = fake_account.start_links("", { first,
      { { recv = "^A2 UID STORE 11,13 %+FLAGS.SILENT %(k1%)\r\n$" },
        { send = "A2 OK stored\r\n" } },
    }, SHORT)
    -- The reader sees the end of the link right after the first piece
    -- is confirmed, before the second is sent.
    local c = acct:conn()
    local wait = c.wait
    c.wait = function(self, tag, what, ...)
      local r, data = wait(self, tag, what, ...)
      if what:find("^STORE") then
        self.wait = nil
        assert.is_nil(self.conn:read(5))
      end
      return r, data
    end
    rules(acct, { { "long", "a", "k1" } })
    assert.same({}, plan.errors())
    local entries = plan.entries()
    assert.equal(2, #entries)
    assert.same({ 1, 3, 5, 7, 9 }, entries[1].uids)
    assert.same({ 11, 13 }, entries[2].uids)
    assert.same({ long = 7 }, flagged())
    assert.equal("done", srvs[1]:status())
    finish(acct, srvs[2])
  end)

  it("reports a refused piece once and sends again only the pieces never " ..
    "sent", function()
    batch.WINDOW_BYTES = 1
    local acct, srvs = fake_account.start_links("", {
      { { recv = "^A2 UID SEARCH SUBJECT \"a\"\r\n$" },
        { send = "* SEARCH 1 3 5 7 9 11 13 15 17 19\r\nA2 OK done\r\n" },
        { recv = "^A3 UID STORE 1,3,5,7,9 %+FLAGS.SILENT %(k1%)\r\n$" },
        { send = "A3 NO [CANNOT] refused\r\n" },
        { recv = "^A4 UID STORE 11,13,15 %+FLAGS.SILENT %(k1%)\r\n$" },
        { send = "A4 OK stored\r\n" }, { close = true }, closes = true },
      { { recv = "^A2 UID STORE 17,19 %+FLAGS.SILENT %(k1%)\r\n$" },
        { send = "A2 OK stored\r\n" } },
    }, SHORT)
    -- The reader sees the end of the link right after the second piece
    -- is confirmed, before the third is sent.
    local c = acct:conn()
    local wait, n = c.wait, 0
    c.wait = function(self, tag, what, ...)
      local res = table.pack(pcall(wait, self, tag, what, ...))
      if what:find("^STORE") then
        n = n + 1
        if n == 2 then
          self.wait = nil
          assert.is_nil(self.conn:read(5))
        end
      end
      if not res[1] then error(res[2], 0) end
      return table.unpack(res, 2, res.n)
    end
    rules(acct, { { "long", "a", "k1" } })
    local errs = plan.errors()
    assert.equal(1, #errs)
    assert.equal("no", errs[1].error.kind)
    local entries = plan.entries()
    assert.equal(2, #entries)
    assert.same({ 11, 13, 15 }, entries[1].uids)
    assert.same({ 17, 19 }, entries[2].uids)
    assert.same({ long = 5 }, flagged())
    assert.equal("done", srvs[1]:status())
    finish(acct, srvs[2])
  end)
end)

describe("queued flag changes and UIDVALIDITY", function()
  it("does not send a queued UID STORE after the mailbox is selected " ..
    "again with a new UIDVALIDITY", function()
    local acct, srv = fake_account.start("", {
      { recv = "^A2 UID SEARCH SUBJECT \"a\"\r\n$" },
      { send = "* SEARCH 1 2\r\nA2 OK done\r\n" },
      { recv = "^A3 SELECT Other\r\n$" },
      { send = "* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n" },
      { reply = "OK [READ-WRITE] selected" },
      { recv = "^A4 SELECT INBOX\r\n$" },
      { send = "* 5 EXISTS\r\n* OK [UIDVALIDITY 43] x\r\n" },
      { reply = "OK [READ-WRITE] selected" },
      { recv = "^A5 UID SEARCH SUBJECT \"b\"\r\n$" },
      { send = "* SEARCH 3\r\nA5 OK done\r\n" },
      { recv = "^A6 UID STORE 3 %+FLAGS.SILENT %(k2%)\r\n$" },
      { send = "A6 OK stored\r\n" },
    })
    assert.is_true(imapsift.rule("stale", function()
      local s = acct.INBOX:search{ subject = "a" }
      assert.equal(2, #s) -- searched now, under UIDVALIDITY 42
      acct.Other:select()
      s:add_keyword("k1") -- queued on INBOX with the UIDs of 42
    end))
    rules(acct, { { "fresh", "b", "k2" } })
    local errs = errors_by_rule()
    assert.is_truthy(errs.stale)
    assert.is_nil(errs.fresh)
    assert.equal("uidvalidity", errs.stale.kind)
    assert.equal("INBOX", errs.stale.mailbox)
    assert.equal("STORE +FLAGS", errs.stale.command)
    assert.same({ 42, 43 }, { errs.stale.old, errs.stale.new })
    local entries = plan.entries()
    assert.equal(1, #entries)
    assert.same({ "fresh", { 3 } }, { entries[1].rule, entries[1].uids })
    finish(acct, srv)
    for _, line in ipairs(sent(srv)) do
      assert.is_nil(line:find("k1", 1, true), line)
    end
  end)
end)

describe("queued flag changes and the SEARCHRES variable $", function()
  it("never sends STORE $ after another SAVE search replaced $", function()
    local acct, srv = fake_account.start(RES, {
      saving(2, "a"), saving(3, "b"),
      { send = '* ESEARCH (TAG "A2") UID ALL 1:2\r\nA2 OK done\r\n' ..
        '* ESEARCH (TAG "A3") UID ALL 5\r\nA3 OK done\r\n' },
      { recv = "^A4 UID STORE 1:2 %+FLAGS.SILENT %(k1%)\r\n$" },
      { recv = "^A5 UID STORE 5 %+FLAGS.SILENT %(k2%)\r\n$" },
      { send = "A4 OK stored\r\nA5 OK stored\r\n" },
    })
    assert.is_true(imapsift.rule("both", function()
      local a = acct.INBOX:search{ subject = "a" }
      local b = acct.INBOX:search{ subject = "b" }
      a:add_keyword("k1")
      b:add_keyword("k2")
    end))
    assert.same({}, plan.errors())
    assert.same({ both = 3 }, flagged())
    finish(acct, srv)
    assert.same({ search_save("A2", "a"), search_save("A3", "b"),
      "A4 UID STORE 1:2 +FLAGS.SILENT (k1)",
      "A5 UID STORE 5 +FLAGS.SILENT (k2)" }, sent(srv))
  end)

  it("fails the rule whose SAVE search failed though STORE $ said OK",
    function()
    -- RFC 5182 2.1: a failed search empties $, and a STORE on the
    -- empty set is a success that changes nothing.
    local acct, srv, errs = flight({ "nofind", "good", "badfind" },
      "A2 NO [SERVERBUG] cannot search\r\nA3 OK stored\r\n" ..
      '* ESEARCH (TAG "A4") UID ALL 2,4\r\nA4 OK done\r\n' ..
      "A5 OK stored\r\n" ..
      "A6 BAD [CLIENTBUG] bad search\r\nA7 OK stored\r\n")
    assert.is_nil(errs.good)
    assert.equal("no", errs.nofind and errs.nofind.kind)
    assert.equal("bad", errs.badfind and errs.badfind.kind)
    local entries = plan.entries()
    assert.equal(1, #entries)
    assert.same({ "good", { 2, 4 } }, { entries[1].rule, entries[1].uids })
    assert.same({ nofind = 0, good = 2, badfind = 0 }, flagged())
    finish(acct, srv)
  end)
end)

describe("a SAVE search the client could not read", function()
  it("says the STORE $ changed messages it cannot name", function()
    local list = { { "big", "a", "k1" } }
    local acct, srvs = fake_account.start_links(RES, { saved_stores(list, {
      -- Five UIDs, over the client's limit of three: the server saved
      -- them in $ all the same, and the STORE $ changed them.
      { send = '* ESEARCH (TAG "A2") UID ALL 1:5\r\nA2 OK done\r\n' ..
        "A3 OK stored\r\n" },
    }) }, { limits = { max_uids = 3 } })
    rules(acct, list)
    local err = errors_by_rule().big
    assert.equal("limit", err and err.kind)
    assert.equal("STORE +FLAGS", err.command)
    assert.equal("INBOX", err.mailbox)
    assert.matches("not recorded", err.text)
    assert.same({}, plan.entries())
    finish(acct, srvs[1])
  end)
end)

describe("a NO on one STORE of a pipelined flight", function()
  it("fails only the rule whose STORE was refused", function()
    local acct, srv, errs = flight({ "r1", "r2", "r3" },
      '* ESEARCH (TAG "A2") UID ALL 1\r\nA2 OK done\r\n' ..
      "A3 OK stored\r\n" ..
      '* ESEARCH (TAG "A4") UID ALL 2:3\r\nA4 OK done\r\n' ..
      "A5 NO [CANNOT] keyword refused\r\n" ..
      '* ESEARCH (TAG "A6") UID ALL 4\r\nA6 OK done\r\n' ..
      "A7 OK stored\r\n")
    assert.is_nil(errs.r1)
    assert.is_nil(errs.r3)
    assert.equal("no", errs.r2 and errs.r2.kind)
    assert.equal("STORE +FLAGS", errs.r2.command)
    local entries = plan.entries()
    assert.equal(2, #entries)
    assert.same({ "r1", { 1 } }, { entries[1].rule, entries[1].uids })
    assert.same({ "r3", { 4 } }, { entries[2].rule, entries[2].uids })
    assert.same({ r1 = 1, r2 = 0, r3 = 1 }, flagged())
    finish(acct, srv)
  end)
end)
