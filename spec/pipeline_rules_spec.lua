-- spec/pipeline_rules_spec.lua: flag changes of independent rules are
-- queued and sent pipelined (imapsift.batch): with SEARCHRES each search
-- and its STORE go out together, so 5 rules and 20 rules cost the same
-- number of round trips after login. Real Dovecot, spare user sam.
local server = require "support.server"
local imapsift = require "imapsift"
local plan = require "imapsift.plan"

server.as(17)

-- Round trips: a client line sent after server lines were read.
local function tracer()
  local t = { trips = 0, last = nil, on = false }
  function t.fn(dir, _)
    local client = dir == "C" or dir == ">"
    if t.on and client and t.last == "S" then t.trips = t.trips + 1 end
    t.last = client and "C" or "S"
  end
  return t
end

local function fill(n)
  local imap = server.connect()
  server.reset(imap)
  local msgs = {}
  for i = 1, n do
    msgs[i] = server.message{ subject = ("pipe-%02d"):format(i) }
  end
  server.append(imap, "INBOX", msgs)
  imap:logout()
end

local function keywords_of(n)
  local imap = server.connect()
  imap:examine("INBOX")
  local out = {}
  for _, m in ipairs(imap:fetch("1:*", { "UID", "FLAGS" })) do
    for _, f in ipairs(m.flags) do out[f] = (out[f] or 0) + 1 end
  end
  imap:logout()
  local got = {}
  for i = 1, n do got[i] = out[("bench%02d"):format(i)] or 0 end
  return got
end

-- run(n) -> round trips after login, the plan entries.
local function run(n)
  plan.reset()
  local t = tracer()
  local acct = imapsift.account(server.opts{ trace = t.fn, name = "sam" })
  acct:conn()
  t.on = true
  for i = 1, n do
    imapsift.rule("r" .. i, function()
      acct.INBOX:search{ subject = ("pipe-%02d"):format(i) }
        :add_keyword(("bench%02d"):format(i))
    end)
  end
  require("imapsift.batch").finish()
  local trips = t.trips
  local entries = plan.entries()
  acct:logout()
  return trips, entries
end

describe("pipelined rules on Dovecot", function()
  after_each(function() plan.reset() end)

  it("costs the same round trips for 5 and 20 rules, and sets them all",
    function()
    fill(20)
    local c = server.connect()
    assert.is_truthy(c.capabilities.SEARCHRES)
    c:logout()
    local t5 = run(5)
    fill(20)
    local t20, entries = run(20)
    assert.are.equal(t5, t20)
    assert.is_true(t20 <= 2, "round trips: " .. t20)
    print(("round trips after login: 5 rules %d, 20 rules %d"):format(t5,
      t20))
    local got = keywords_of(20)
    for i = 1, 20 do assert.are.equal(1, got[i], "bench" .. i) end
    assert.are.equal(20, #entries)
    for i, e in ipairs(entries) do
      assert.are.equal("r" .. i, e.rule)
      assert.are.equal("flag", e.action)
      assert.are.equal(1, #e.uids)
    end
  end)

  it("reports a failed search's store against the rule that queued it",
    function()
    fill(2)
    plan.reset()
    local acct = imapsift.account(server.opts{ name = "sam" })
    imapsift.rule("good", function()
      acct.INBOX:search{ subject = "pipe-01" }:add_keyword("ok1")
    end)
    imapsift.rule("bad", function()
      acct["No/Such"]:search{ subject = "pipe-02" }:add_keyword("ok2")
    end)
    local errs = plan.errors()
    assert.are.equal(1, #errs)
    assert.are.equal("bad", errs[1].rule)
    assert.are.equal(1, #plan.entries())
    acct:logout()
  end)

  it("refuses queued flag changes once the command is stopping", function()
    fill(2)
    plan.reset()
    local acct = imapsift.account(server.opts{ name = "sam" })
    for i = 1, 2 do
      imapsift.rule("r" .. i, function()
        acct.INBOX:search{ subject = ("pipe-%02d"):format(i) }
          :add_keyword(("bench%02d"):format(i))
      end)
    end
    local should_stop = plan.should_stop
    plan.should_stop = function() return true end -- SIGTERM came now
    local ok, err = pcall(require("imapsift.batch").finish)
    plan.should_stop = should_stop
    assert(ok, tostring(err))
    local errs = plan.errors()
    assert.are.equal(2, #errs)
    for i, e in ipairs(errs) do
      assert.are.equal("r" .. i, e.rule)
      assert.are.equal("stopped", e.error.kind)
    end
    assert.are.same({ 0, 0 }, keywords_of(2)) -- nothing was sent
    acct:logout()
  end)
end)
