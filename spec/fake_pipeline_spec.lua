-- spec/fake_pipeline_spec.lua: queued flag changes (imapsift.batch) on a
-- scripted server without SEARCHRES: the searches go out together, the
-- stores together after them (two flights for any number of rules), and
-- a STORE refused mid-batch is reported against the rule that queued it
-- while the others are recorded.
local fake_account = require "support.fake_account"
local plan = require "imapsift.plan"
local imapsift = require "imapsift"

-- An account on a fake server without SEARCHRES, INBOX selected.
local function start(more) return fake_account.start("", more) end

after_each(fake_account.cleanup)

describe("queued flag changes without SEARCHRES", function()
  it("sends searches, then stores, and reports a refused STORE against " ..
    "its rule", function()
    local acct = start{
      { recv = '^A2 UID SEARCH SUBJECT "a"\r\n$' },
      { recv = '^A3 UID SEARCH SUBJECT "b"\r\n$' },
      { send = "* SEARCH 1\r\nA2 OK done\r\n* SEARCH 2\r\nA3 OK done\r\n" },
      { recv = "^A4 UID STORE 1 %+FLAGS.SILENT %(k1%)\r\n$" },
      { recv = "^A5 UID STORE 2 %+FLAGS.SILENT %(k2%)\r\n$" },
      { send = "A4 NO refused\r\nA5 OK stored\r\n" },
    }
    local logged = {}
    local old = plan.log
    plan.log = function(line) logged[#logged + 1] = line end
    local ok1 = imapsift.rule("one", function()
      acct.INBOX:search{ subject = "a" }:add_keyword("k1")
    end)
    local ok2 = imapsift.rule("two", function()
      acct.INBOX:search{ subject = "b" }:add_keyword("k2")
    end)
    assert.is_true(ok1 and ok2) -- queued: nothing sent yet
    local errs = plan.errors() -- a sync point: sends the queue
    plan.log = old
    assert.are.equal(1, #errs)
    assert.are.equal("one", errs[1].rule)
    assert.are.equal("no", errs[1].error.kind)
    local entries = plan.entries()
    assert.are.equal(1, #entries)
    assert.are.equal("two", entries[1].rule)
    assert.are.same({ 2 }, entries[1].uids)
    local s = plan.summary()
    assert.are.equal(1, s[1].errors)
    assert.are.equal(1, s[2].flagged)
  end)
end)
