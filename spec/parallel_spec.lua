-- spec/parallel_spec.lua: big reads split over extra read connections
-- (parallel.lua) on the private Dovecot, as spare user tina.

local imapsift = require "imapsift"
local server = require "support.server"
local account = require "imapsift.account"

local N = 3000

local function fill(imap)
  server.reset(imap)
  imap:create("Par")
  local list = {}
  for i = 1, N do
    list[i] = server.message{ subject = "par " .. i,
      from = ("S%d <s%d@example.org>"):format(i % 7, i % 7),
      message_id = ("<par-%d@example.org>"):format(i) }
  end
  if imap.append_many then imap:append_many("Par", list)
  else server.append(imap, "Par", list) end
end

local function read(parallel, events)
  account.on_event = function(_, what) events[#events + 1] = what end
  local acct = imapsift.account(server.opts{ parallel = parallel,
    parallel_threshold = 500 })
  local out = {}
  for m in acct.Par:select_all():each{ "from", "subject", "size" } do
    out[#out + 1] = { m.uid, m.from[1].address, m.subject, m.size }
  end
  acct:logout()
  account.on_event = nil
  return out
end

local function count(list, what)
  local n = 0
  for _, v in ipairs(list) do if v == what then n = n + 1 end end
  return n
end

describe("parallel reads", function()
  setup(function()
    server.as(18)
    local imap = server.connect()
    fill(imap)
    imap:logout()
  end)

  it("give the same messages in the same order as one connection",
    function()
      local ev1, ev3 = {}, {}
      local one = read(1, ev1)
      local three = read(3, ev3)
      assert.equal(N, #one)
      assert.same(one, three)
      for i = 2, N do assert.is_true(one[i][1] > one[i - 1][1]) end
      assert.equal("par 1", one[1][3])
      assert.equal(0, count(ev1, "opened a read connection"))
      assert.equal(2, count(ev3, "opened a read connection"))
      assert.equal(2, count(ev3, "closed a read connection"))
    end)

  it("survive a loop that stops early: the next read is whole", function()
    local acct = imapsift.account(server.opts{ parallel = 3,
      parallel_threshold = 500 })
    local set = acct.Par:select_all()
    for m in set:each{ "subject" } do
      if m.uid > 10 then break end
    end
    local n, last = 0, 0
    for m in set:each{ "subject" } do
      n = n + 1
      assert.is_true(m.uid > last)
      last = m.uid
      assert.equal("par " .. n, m.subject)
    end
    acct:logout()
    assert.equal(N, n)
  end)

  it("are not used under the threshold", function()
    local ev = {}
    account.on_event = function(_, what) ev[#ev + 1] = what end
    local acct = imapsift.account(server.opts{ parallel = 3 })
    assert.equal(N, #acct.Par:select_all():messages{ "subject" })
    acct:logout()
    account.on_event = nil
    assert.equal(0, count(ev, "opened a read connection"))
  end)
end)
